package scanner_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zeebo/blake3"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

var tree = fimtest.Tree{
	"a/f1":    fimtest.File("one"),
	"a/f2":    fimtest.File("two"),
	"a/sub/x": fimtest.File("x"),
	"b/g":     fimtest.File("g"),
	"c":       fimtest.File("c"),
	"l":       fimtest.Symlink("c"),
}

// allPaths are the relative paths a scan of tree records ("." is the root).
var allPaths = []string{".", "a", "a/f1", "a/f2", "a/sub", "a/sub/x", "b", "b/g", "c", "l"}

type scanErr struct {
	path string
	err  error
}

// result is what a scan produced.
type result struct {
	entries map[string]*merkle.Entry // by relative path
	order   []string
	errs    []scanErr
	stats   *scanner.Stats
}

// scan scans root with opts, failing the test if the scan fails or does not
// finish within a minute.
func scan(t *testing.T, root string, opts scanner.Options) result {
	t.Helper()
	res := result{entries: map[string]*merkle.Entry{}, stats: new(scanner.Stats)}
	opts.Stats = res.stats
	opts.OnError = func(p string, err error) error {
		res.errs = append(res.errs, scanErr{rel(root, p), err})
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := scanner.Scan(ctx, []string{root}, opts, func(e *merkle.Entry) error {
		r := rel(root, e.Path)
		res.entries[r] = e
		res.order = append(res.order, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%s): %v", root, err)
	}
	return res
}

func rel(root, p string) string {
	if p == root {
		return "."
	}
	return strings.TrimPrefix(p, root+"/")
}

// newTree makes tree in a new temporary directory and returns its path.
func newTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	tree.Make(t, root)
	return root
}

// without returns allPaths but those at or below any of gone.
func without(gone ...string) []string {
	return slices.DeleteFunc(slices.Clone(allPaths), func(p string) bool {
		for _, g := range gone {
			if p == g || strings.HasPrefix(p, g+"/") {
				return true
			}
		}
		return false
	})
}

// checkIntact fails the test for each entry of res, but those in except,
// that has an error or, being a file, not the hash of its content.
func checkIntact(t *testing.T, root string, res result, except ...string) {
	t.Helper()
	for p, e := range res.entries {
		if slices.Contains(except, p) {
			continue
		}
		if e.Err != "" {
			t.Errorf("%s: recorded error %q, want none", p, e.Err)
		}
		if e.Type != merkle.TypeFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if e.HashState != merkle.HashOK || e.Hash != blake3.Sum256(data) {
			t.Errorf("%s: hash %x (%v), want %x", p, e.Hash, e.HashState, blake3.Sum256(data))
		}
	}
}

// TestScanFaults injects EACCES and EIO into each kind of system call the
// scanner makes: the error names the path and the operation, is recorded on
// the entry, and the scan records everything else.
func TestScanFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op, target string
		present    []string // recorded paths
		typ        merkle.Type
		hash       merkle.HashState
		unlisted   bool
	}{
		{op: "open", target: "a/f1", present: allPaths, typ: merkle.TypeFile, hash: merkle.HashFailed},
		{op: "read", target: "a/f2", present: allPaths, typ: merkle.TypeFile, hash: merkle.HashFailed},
		// Nothing is known below a path that cannot be lstat'ed, be it a
		// file or not (see TestScanLstatFailureHidesSubtree).
		{op: "lstat", target: "c", present: allPaths, typ: merkle.TypeUnknown, unlisted: true},
		{op: "opendir", target: "a", present: without("a/f1", "a/f2", "a/sub"), typ: merkle.TypeDir, unlisted: true},
		{op: "opendir", target: "a/sub", present: without("a/sub/x"), typ: merkle.TypeDir, unlisted: true},
		{op: "opendir", target: ".", present: []string{"."}, typ: merkle.TypeDir, unlisted: true},
		{op: "lstat", target: ".", present: nil, unlisted: true}, // a root that cannot be lstat'ed yields no entry
	}
	for _, tt := range tests {
		for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EIO} {
			t.Run(tt.op+" "+tt.target+" "+errno.Error(), func(t *testing.T) {
				t.Parallel()
				root := newTree(t)
				target := filepath.Join(root, tt.target)
				var calls atomic.Int32
				res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
					if op == tt.op && path == target {
						calls.Add(1)
						return errno
					}
					return nil
				}})
				if calls.Load() == 0 {
					t.Fatalf("the fault for %s %s was never injected", tt.op, target)
				}
				if !slices.Equal(res.order, tt.present) {
					t.Errorf("recorded %q, want %q", res.order, tt.present)
				}
				checkIntact(t, root, res, tt.target)
				if len(res.errs) != 1 || res.stats.Errors.Load() != 1 {
					t.Fatalf("errors %v (Stats.Errors %d), want one, for %s", res.errs, res.stats.Errors.Load(), tt.target)
				}
				checkError(t, res.errs[0], tt.target, tt.op, target, errno, tt.unlisted)
				if e := res.entries[tt.target]; e != nil {
					if e.Type != tt.typ || e.HashState != tt.hash || !strings.Contains(e.Err, errno.Error()) {
						t.Errorf("%s recorded as %v, hash %v, error %q; want %v, %v, an error saying %q",
							tt.target, e.Type, e.HashState, e.Err, tt.typ, tt.hash, errno.Error())
					}
				}
			})
		}
	}
}

// checkError checks that err, reported for rel, is a *fs.PathError for op
// on path wrapping errno, and that it says whether the directory's contents
// are unknown.
func checkError(t *testing.T, got scanErr, rel, op, path string, errno syscall.Errno, unlisted bool) {
	t.Helper()
	var pe *fs.PathError
	switch {
	case got.path != rel:
		t.Errorf("error reported for %q, want %q", got.path, rel)
	case !errors.As(got.err, &pe) || pe.Op != op || pe.Path != path:
		t.Errorf("error %#v, want a *fs.PathError for %s %s", got.err, op, path)
	case !errors.Is(got.err, errno) || !strings.Contains(got.err.Error(), path):
		t.Errorf("error %q, want %v, naming %s", got.err, errno, path)
	case errors.Is(got.err, scanner.ErrUnlisted) != unlisted:
		t.Errorf("errors.Is(%q, ErrUnlisted) = %v, want %v", got.err, !unlisted, unlisted)
	}
}

// TestScanLstatFailureHidesSubtree: when a directory cannot be lstat'ed,
// what lies below it is unknown, as for a directory that cannot be listed,
// so its error must say so (ErrUnlisted); otherwise callers take its
// recorded subtree for deleted.
func TestScanLstatFailureHidesSubtree(t *testing.T) {
	t.Parallel()
	root := newTree(t)
	target := filepath.Join(root, "a/sub")
	res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
		if op == "lstat" && path == target {
			return syscall.EIO
		}
		return nil
	}})
	if len(res.errs) != 1 {
		t.Fatalf("errors %v, want one, for a/sub", res.errs)
	}
	checkError(t, res.errs[0], "a/sub", "lstat", target, syscall.EIO, true)
}

// TestScanVanished: a path that disappears between its listing and the
// system call that reads it is gone: no entry, no error.
func TestScanVanished(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op, target string
	}{
		{"lstat", "c"},
		{"open", "a/f1"},
		{"opendir", "a/sub"},
		{"opendir", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.target, func(t *testing.T) {
			t.Parallel()
			root := newTree(t)
			target := filepath.Join(root, tt.target)
			var once sync.Once
			res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
				if op == tt.op && path == target {
					once.Do(func() { must(t, os.RemoveAll(target)) })
				}
				return nil
			}})
			if want := without(tt.target); !slices.Equal(res.order, want) {
				t.Errorf("recorded %q, want %q", res.order, want)
			}
			if len(res.errs) != 0 || res.stats.Errors.Load() != 0 {
				t.Errorf("errors %v (Stats.Errors %d), want none", res.errs, res.stats.Errors.Load())
			}
			checkIntact(t, root, res)
		})
	}
}

// TestScanUnstable: a file that grows every time it is read is recorded as
// unstable after a bounded number of attempts, without an error.
func TestScanUnstable(t *testing.T) {
	t.Parallel()
	root := newTree(t)
	target := filepath.Join(root, "a/f1")
	var reads atomic.Int32
	res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
		if op != "read" || path != target {
			return nil
		}
		if reads.Add(1) > 100 {
			return errors.New("still reading after 100 reads")
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString("+")
		return errors.Join(err, f.Close())
	}})
	e := res.entries["a/f1"]
	if e == nil || e.HashState != merkle.HashUnstable || e.Err != "" {
		t.Errorf("a/f1 recorded as %+v, want hash state unstable and no error", e)
	}
	if len(res.errs) != 0 {
		t.Errorf("errors %v, want none", res.errs)
	}
	if !slices.Equal(res.order, allPaths) {
		t.Errorf("recorded %q, want %q", res.order, allPaths)
	}
	checkIntact(t, root, res, "a/f1")
}

// TestScanOrder: entries arrive in merkle.ComparePaths order, each once,
// with names that sort differently in plain byte order.
func TestScanOrder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fimtest.Tree{"a/b": fimtest.File(""), "a-b": fimtest.File(""), "a.b/c": fimtest.File(""), "a0": fimtest.File("")}.Make(t, root)
	res := scan(t, root, scanner.Options{})
	want := []string{".", "a", "a/b", "a-b", "a.b", "a.b/c", "a0"}
	if diff := cmp.Diff(want, res.order); diff != "" {
		t.Errorf("scan order (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}
