package scanner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"vigil/merkle"
	"vigil/scanner"
)

// TestAncestorsThroughSymlink: a root below a symlink is not reached (the
// link is recorded, the root reported), a root beside it is, and the stream
// is one tree from "/".
func TestAncestorsThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real", "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	var got []string
	var errs []error
	b := merkle.NewBuilder(nil)
	opts := scanner.Options{Ancestors: true, OnError: func(p string, err error) error {
		errs = append(errs, err)
		return nil
	}}
	roots := []string{filepath.Join(dir, "lnk", "sub"), filepath.Join(dir, "real", "sub"), filepath.Join(dir, "lnk", "other")}
	err := scanner.Scan(context.Background(), roots, opts, func(e *merkle.Entry) error {
		if merkle.Within(e.Path, dir) {
			got = append(got, e.Path[len(dir):])
		}
		return b.Add(e)
	})
	if err != nil {
		t.Fatalf("Scan(%q) = %v", roots, err)
	}
	if _, err := b.Finish(); err != nil {
		t.Fatalf("Builder over the scan: %v", err)
	}
	want := []string{"", "/lnk", "/real", "/real/sub", "/real/sub/f"}
	if !slices.Equal(got, want) {
		t.Errorf("Scan(%q) recorded %q, want %q", roots, got, want)
	}
	if len(errs) != 2 || !errors.Is(errs[0], scanner.ErrSymlinkPath) || !errors.Is(errs[1], scanner.ErrSymlinkPath) {
		t.Errorf("Scan(%q) errors = %v, want two %v", roots, errs, scanner.ErrSymlinkPath)
	}
}
