//go:build linux

package engine_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// The engine does not let a test inject faults into its scans (it builds
// the scanner's options itself, without Options.Fault), and as root no
// permission bit makes a directory unreadable. These tests get real EACCES
// errors instead by running the operation with the effective user and group
// of nobody. They change the credentials of the whole process, so they must
// not call t.Parallel: Go runs parallel tests only after every sequential
// one has finished.

const nobody = 65534

// asNobody runs fn with effective uid and gid nobody, keeping root as the
// real and saved ids so that it can switch back.
func asNobody(t *testing.T, fn func()) {
	t.Helper()
	fimtest.NeedRoot(t, "switching to nobody")
	if err := syscall.Setresgid(-1, nobody, -1); err != nil {
		t.Fatalf("setresgid: %v", err)
	}
	if err := syscall.Setresuid(-1, nobody, -1); err != nil {
		t.Fatalf("setresuid: %v", err)
	}
	defer func() {
		err := errors.Join(syscall.Setresuid(-1, 0, -1), syscall.Setresgid(-1, 0, -1))
		if err != nil {
			fmt.Fprintf(os.Stderr, "cannot switch back to root (%v); stopping the tests\n", err)
			os.Exit(3)
		}
	}()
	fn()
}

// newSharedFixture is newFixture for a tree that nobody may read: the test's
// temporary directories are made searchable by everyone.
func newSharedFixture(t *testing.T, tree fimtest.Tree) *fixture {
	t.Helper()
	f := newFixture(t, tree)
	for _, d := range []string{f.root, filepath.Dir(f.root)} {
		must(t, os.Chmod(d, 0o755))
	}
	return f
}

// errorPaths returns the paths of errs, and fails the test for any error
// that is not EACCES.
func errorPaths(t *testing.T, errs []scanError) []string {
	t.Helper()
	var out []string
	for _, e := range errs {
		if !errors.Is(e.err, fs.ErrPermission) {
			t.Errorf("error for %s: %v, want EACCES", e.path, e.err)
		}
		out = append(out, e.path)
	}
	return out
}

// unreadableDir is what Check reports about a directory that was made
// unreadable and then could not be opened: its mode and ctime moved, and
// its inode flags could not be read, which counts as changed.
const unreadableDir = merkle.AttrMode | merkle.AttrCtime | merkle.AttrFlags

// TestUnlistedDirectory: a directory that cannot be listed is reported as
// an error, not as the deletion of what it holds, and Update carries its
// recorded subtree over.
func TestUnlistedDirectory(t *testing.T) {
	f := newSharedFixture(t, fimtest.Tree{"pub/f": fimtest.File("f"), "sec/a": fimtest.File("a"), "sec/b/c": fimtest.File("c"), "z": fimtest.File("z")})
	f.init(t)
	must(t, unix.Chmod(f.path("sec"), 0))
	t.Cleanup(func() { unix.Chmod(f.path("sec"), 0o755) })
	want := []change{ch(modified, "sec", unreadableDir)}

	asNobody(t, func() {
		got, errs, res := f.check(t, f.opts())
		if diff := cmp.Diff(want, sortChanges(got)); diff != "" {
			t.Errorf("Check as nobody reported (-want +got):\n%s", diff)
		}
		if p := errorPaths(t, errs); !cmp.Equal(p, []string{"sec"}) || res.Errors != 1 {
			t.Errorf("Check as nobody: errors for %q (Errors %d), want [sec]", p, res.Errors)
		} else if !errors.Is(errs[0].err, scanner.ErrUnlisted) {
			t.Errorf("Check as nobody: error %v, want ErrUnlisted", errs[0].err)
		}

		got, _, res = f.update(t, f.opts())
		if diff := cmp.Diff(want, sortChanges(got)); diff != "" || !res.Written {
			t.Errorf("Update as nobody reported (-want +got):\n%s\nwritten: %v", diff, res.Written)
		}
	})
	for _, rel := range []string{"sec/a", "sec/b", "sec/b/c"} {
		if f.entry(t, rel) == nil {
			t.Errorf("after Update as nobody, %s is no longer recorded", rel)
		}
	}
	must(t, unix.Chmod(f.path("sec"), 0o755))
	got, errs, _ := f.check(t, f.opts())
	if diff := cmp.Diff([]change{ch(modified, "sec", unreadableDir)}, sortChanges(got)); diff != "" || len(errs) != 0 {
		t.Errorf("Check as root after the mode was put back reported (-want +got):\n%s\nerrors: %v", diff, errs)
	}
}

// TestUnlistedDirectories: two directories that cannot be listed, one
// right after the other in path order, each hide their recorded subtrees.
func TestUnlistedDirectories(t *testing.T) {
	f := newSharedFixture(t, fimtest.Tree{"sec1/a": fimtest.File("a"), "sec1/b/c": fimtest.File("c"), "sec2/d": fimtest.File("d")})
	f.init(t)
	for _, d := range []string{"sec1", "sec2"} {
		must(t, unix.Chmod(f.path(d), 0))
		t.Cleanup(func() { unix.Chmod(f.path(d), 0o755) })
	}
	want := []change{ch(modified, "sec1", unreadableDir), ch(modified, "sec2", unreadableDir)}
	asNobody(t, func() {
		got, errs, _ := f.check(t, f.opts())
		if diff := cmp.Diff(want, sortChanges(got)); diff != "" {
			t.Errorf("Check as nobody reported (-want +got):\n%s", diff)
		}
		if p := errorPaths(t, errs); !cmp.Equal(p, []string{"sec1", "sec2"}) {
			t.Errorf("Check as nobody: errors for %q, want [sec1 sec2]", p)
		}
	})
}

// TestUnstatableEntry: entries that cannot even be lstat'ed (their
// directory is readable but not searchable) are reported as errors and as
// unverifiable (their type is unknown, which counts as changed, as in
// merkle.Compare); what was recorded below them is unknown, not deleted,
// and Update carries it over.
func TestUnstatableEntry(t *testing.T) {
	f := newSharedFixture(t, fimtest.Tree{"nox/sub/deep": fimtest.File("d"), "nox/file": fimtest.File("f")})
	f.init(t)
	must(t, unix.Chmod(f.path("nox"), 0o744))
	t.Cleanup(func() { unix.Chmod(f.path("nox"), 0o755) })
	// Everything an lstat fills in differs from the recorded root-owned
	// entry but the owner and group (zero either way).
	unknown := merkle.AttrContent | merkle.AttrType | merkle.AttrMode | merkle.AttrSize | times |
		merkle.AttrInode | merkle.AttrNlink | merkle.AttrFlags
	want := []change{
		ch(modified, "nox", merkle.AttrMode|merkle.AttrCtime),
		ch(updated, "nox/file", unknown),
		ch(updated, "nox/sub", unknown),
	}
	asNobody(t, func() {
		got, errs, _ := f.check(t, f.opts())
		if diff := cmp.Diff(want, sortChanges(got)); diff != "" {
			t.Errorf("Check as nobody reported (-want +got):\n%s", diff)
		}
		if p := errorPaths(t, errs); !cmp.Equal(p, []string{"nox/file", "nox/sub"}) {
			t.Errorf("Check as nobody: errors for %q, want [nox/file nox/sub]", p)
		}
		got, _, _, err := f.try(t, engine.Update, f.opts())
		if diff := cmp.Diff(want, sortChanges(got)); diff != "" || err != nil {
			t.Errorf("Update as nobody reported (-want +got):\n%s\nerror: %v", diff, err)
		}
	})
	if f.entry(t, "nox/sub/deep") == nil {
		t.Errorf("after Update as nobody, nox/sub/deep is no longer recorded")
	}
}
