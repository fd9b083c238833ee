package scanner_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/merkle"
	"vigil/scanner"
)

// deepDir creates, below root, directories named name nested until the path
// is longer than PATH_MAX, going through descriptors (a path that long
// cannot be passed to the kernel), and returns the deepest one's path
// relative to root and an open descriptor of it.
func deepDir(t *testing.T, root, name string) (string, int) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for len(root)+len(rel)*(len(name)+1) <= unix.PathMax {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = sub
		rel = append(rel, name)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return strings.Join(rel, "/"), fd
}

// writeAt creates the file name in dirfd holding data.
func writeAt(t *testing.T, dirfd int, name, data string) {
	t.Helper()
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = unix.Write(fd, []byte(data))
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
}

// TestScanBeyondPathMax: a tree whose paths grow longer than PATH_MAX is
// scanned to the bottom: directories are opened relative to their parent,
// never by path.
func TestScanBeyondPathMax(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	deep, fd := deepDir(t, root, strings.Repeat("d", 200))
	writeAt(t, fd, "file", "deep content")
	if err := unix.Symlinkat("file", fd, "link"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdirat(fd, "sub", 0o755); err != nil {
		t.Fatal(err)
	}
	sub, err := unix.Openat(fd, "sub", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, sub, "below", "further down")
	unix.Close(sub)
	res := scan(t, root, scanner.Options{})
	if len(res.errs) != 0 {
		t.Errorf("scan of a tree deeper than PATH_MAX: errors %v, want none", res.errs)
	}
	for rel, want := range map[string]string{"file": "deep content", "sub/below": "further down"} {
		p := filepath.Join(deep, rel)
		e := res.entries[p]
		if e == nil || e.HashState != merkle.HashOK || e.Hash != blake3.Sum256([]byte(want)) {
			t.Errorf("%d-byte path .../%s recorded as %+v, want the hash of %q", len(root)+1+len(p), rel, e, want)
		}
	}
	if e := res.entries[filepath.Join(deep, "link")]; e == nil || e.Target != "file" {
		t.Errorf("symlink .../link recorded as %+v, want target %q", e, "file")
	}
}
