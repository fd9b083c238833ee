package engine_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"vigil/internal/config"
	"vigil/internal/fimtest"
)

// TestExcludeFilesSparesDirectories: exclude_files patterns (the default's
// editor swap and lock files) leave out files and symlinks, but a directory
// of such a name is recorded with everything below it, so it hides nothing.
func TestExcludeFilesSparesDirectories(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{
		".#hosts":              fimtest.Symlink("root@host.123"), // emacs lock
		"ssh/.sshd_config.swp": fimtest.File("swap"),
		".#stash/backdoor":     fimtest.File("evil"),
		".x.swp/sub/payload":   fimtest.File("evil too"),
		"hosts":                fimtest.File("127.0.0.1 localhost\n"),
	})
	text := fmt.Sprintf("database = %q\nroots = [%q]\nexclude_files = [%q, %q]\n",
		f.cfg.Database, f.root, f.root+"/**/.*.sw[a-p]", f.root+"/**/.#*")
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	f.cfg = cfg
	f.init(t)
	for rel, want := range map[string]bool{
		".#hosts": false, "ssh/.sshd_config.swp": false,
		".#stash": true, ".#stash/backdoor": true, ".x.swp/sub/payload": true, "hosts": true,
	} {
		if got := f.entry(t, rel) != nil; got != want {
			t.Errorf("baseline has %s: %v, want %v", filepath.Join(f.root, rel), got, want)
		}
	}
}
