//go:build linux

package engine_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
)

// TestUnreadableFileKeepsItsMetadata: a file that a non-root init cannot
// open (/etc/shadow as an operator's account sees it) is recorded with what
// lstat says about it, not with zeroed metadata, so that the next check
// reports its error once and no change of mode, size or times.
func TestUnreadableFileKeepsItsMetadata(t *testing.T) {
	f := newSharedFixture(t, fimtest.Tree{"shadow": fimtest.File("secret"), "pub": fimtest.File("p")})
	must(t, unix.Chmod(f.path("shadow"), 0o600))
	fimtest.Age(t, f.root, fimtest.Past)
	asNobody(t, func() {
		_, errs, res := f.op(t, "Init", engine.Init, f.opts())
		if p := errorPaths(t, errs); len(p) != 1 || p[0] != "shadow" || res.Baseline.Counts.Errors != 1 {
			t.Fatalf("Init as nobody: errors for %q (counted %d), want [shadow] once", p, res.Baseline.Counts.Errors)
		}
	})
	e := f.entry(t, "shadow")
	if e == nil || e.Perm != 0o600 || e.Size != int64(len("secret")) || e.Inode == 0 || e.Mtime == 0 {
		t.Fatalf("Init as nobody recorded shadow as %+v, want its lstat (mode 0600, size 6, inode, mtime)", e)
	}
	asNobody(t, func() {
		got, errs, res := f.check(t, f.opts())
		if len(got) != 0 || res.Changed != 0 {
			t.Errorf("Check as nobody reported %v, want no change (only the error)", got)
		}
		if p := errorPaths(t, errs); len(p) != 1 || p[0] != "shadow" {
			t.Errorf("Check as nobody: errors for %q, want [shadow] once", p)
		}
	})
}
