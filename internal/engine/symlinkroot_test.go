package engine_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
)

// TestSymlinkRootWarns: a root that is a symlink is recorded as the link;
// Init says so when no root covers its target, and not when one does (as
// /bin -> usr/bin beside /usr/bin).
func TestSymlinkRootWarns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		roots []string
		want  []string // "root -> target", relative
	}{
		{"target not watched", []string{"lnk"}, []string{"lnk -> real"}},
		{"target is a root", []string{"lnk", "real"}, nil},
		{"root inside the target", []string{"lnk", "real/sub"}, nil},
		{"dangling", []string{"gone"}, []string{"gone -> nowhere"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fimtest.Tree{
				"real/sub/f": fimtest.File("x"),
				"lnk":        fimtest.Symlink("real"),
				"gone":       fimtest.Symlink("nowhere"),
			})
			var roots []string
			for _, r := range tt.roots {
				roots = append(roots, fmt.Sprintf("%q", f.path(r)))
			}
			text := fmt.Sprintf("database = %q\nroots = [%s]\n", f.cfg.Database, strings.Join(roots, ", "))
			cfg, err := config.Parse("test.toml", []byte(text))
			if err != nil {
				t.Fatalf("config.Parse(%q): %v", text, err)
			}
			f.cfg = cfg
			var got []string
			o := f.opts()
			o.Report = engine.Funcs{OnSymlinkRoot: func(root, target string) {
				rel, _ := filepath.Rel(f.root, target)
				got = append(got, f.rel(root)+" -> "+rel)
			}}
			f.op(t, "Init", engine.Init, o)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Init of roots %q: SymlinkRoot told %q, want %q", tt.roots, got, tt.want)
			}
		})
	}
}
