//go:build linux

package fsys_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
)

func TestOpenat2RefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "real/lf")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want error // nil: opens
	}{
		{"real/f", nil},
		{"link/f", unix.ELOOP},  // a symlinked directory in the path
		{"real/lf", unix.ELOOP}, // the last element (O_NOFOLLOW)
		{"../" + filepath.Base(dir) + "/real/f", unix.EXDEV},
	} {
		dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := fsys.Openat2(dfd, tt.path, unix.O_RDONLY|unix.O_NOATIME, unix.RESOLVE_BENEATH)
		unix.Close(dfd)
		if err == nil {
			unix.Close(fd)
		}
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("Openat2(%q, RESOLVE_BENEATH) = %v, want %v", tt.path, err, tt.want)
		}
	}
}

func TestFail(t *testing.T) {
	f := &fsys.Fail{Op: fsys.Fsync, Nth: 2, Err: unix.EIO}
	fs := fsys.FS{Faults: f}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(file, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var got []error
	for range 3 {
		got = append(got, fs.Fsync("f", fd))
	}
	if _, err := fs.Pwrite("f", fd, []byte("y"), 0); err != nil {
		t.Errorf("Pwrite with a fault set for fsync = %v, want nil", err)
	}
	if got[0] != nil || !errors.Is(got[1], unix.EIO) || got[2] != nil {
		t.Errorf("three fsyncs with Nth 2 failing = %v, want nil, EIO, nil", got)
	}
	wantCalls := []fsys.Call{{fsys.Fsync, "f"}, {fsys.Fsync, "f"}, {fsys.Fsync, "f"}, {fsys.Write, "f"}}
	if c := f.Calls(); !slices.Equal(c, wantCalls) {
		t.Errorf("Calls() = %v, want %v", c, wantCalls)
	}
	if c := f.Failed(); !slices.Equal(c, wantCalls[1:2]) {
		t.Errorf("Failed() = %v, want %v", c, wantCalls[1:2])
	}
	// The zero FS makes the real call.
	if _, err := (fsys.FS{}).Pwrite("f", fd, []byte("z"), 0); err != nil {
		t.Errorf("FS{}.Pwrite = %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "z" {
		t.Errorf("file holds %q after the writes, want %q", b, "z")
	}
}
