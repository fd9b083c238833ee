//go:build linux

package fimtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func lstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	Tree{
		"a/b/file": File("hello").Mode(0o4750),
		"a/sparse": Sparse(1 << 20),
		"d":        Dir(0o500),
		"d/inside": File("x"),
		"link":     Symlink("a/b/file"),
		"hard":     Hardlink("a/b/file"),
		"fifo":     FIFO(),
		"null":     CharDev(1, 3),
		"sock":     Socket(),
	}.Make(t, dir)

	tests := []struct {
		path string
		mode uint32 // type and permission bits
	}{
		{"a", unix.S_IFDIR | 0o755},
		{"a/b", unix.S_IFDIR | 0o755},
		{"a/b/file", unix.S_IFREG | 0o4750},
		{"a/sparse", unix.S_IFREG | 0o644},
		{"d", unix.S_IFDIR | 0o500},
		{"d/inside", unix.S_IFREG | 0o644},
		{"link", unix.S_IFLNK | 0o777},
		{"hard", unix.S_IFREG | 0o4750},
		{"fifo", unix.S_IFIFO | 0o644},
		{"null", unix.S_IFCHR | 0o644},
		{"sock", unix.S_IFSOCK | 0o755},
	}
	for _, tt := range tests {
		st := lstat(t, filepath.Join(dir, tt.path))
		if st.Mode != tt.mode || st.Mtim.Nano() != Past.UnixNano() {
			t.Errorf("%s: mode %o, mtime %v; want %o, %v", tt.path, st.Mode, time.Unix(0, st.Mtim.Nano()).UTC(), tt.mode, Past)
		}
	}
	if st := lstat(t, dir); st.Mtim.Nano() == Past.UnixNano() {
		t.Errorf("Make set the mtime of the directory it was given, want it left alone")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "hard")); err != nil || string(b) != "hello" {
		t.Errorf("hard holds %q (%v), want %q", b, err, "hello")
	}
	if a, b := lstat(t, filepath.Join(dir, "hard")), lstat(t, filepath.Join(dir, "a/b/file")); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard: inode %d, %d links; want a/b/file's inode %d and 2 links", a.Ino, a.Nlink, b.Ino)
	}
	if target, err := os.Readlink(filepath.Join(dir, "link")); target != "a/b/file" {
		t.Errorf("link points to %q (%v), want a/b/file", target, err)
	}
	if st := lstat(t, filepath.Join(dir, "a/sparse")); st.Size != 1<<20 || st.Blocks != 0 {
		t.Errorf("a/sparse: size %d, %d blocks; want %d, 0", st.Size, st.Blocks, 1<<20)
	}
	if st := lstat(t, filepath.Join(dir, "null")); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null: rdev %#x, want %#x", st.Rdev, unix.Mkdev(1, 3))
	}
}

// TestMakeAdds: Make into an existing tree leaves what was there alone.
func TestMakeAdds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	Tree{"old/f": File("f")}.Make(t, dir)
	before := lstat(t, filepath.Join(dir, "old/f"))
	Tree{"old/new": File("n"), "other/g": File("g")}.Make(t, dir)
	if after := lstat(t, filepath.Join(dir, "old/f")); after.Ctim != before.Ctim {
		t.Errorf("old/f: ctime moved from %v to %v, want it untouched", before.Ctim, after.Ctim)
	}
	if st := lstat(t, filepath.Join(dir, "old")); st.Mtim.Nano() == Past.UnixNano() {
		t.Errorf("old: mtime %v, want the time new was added", Past)
	}
	for _, p := range []string{"other", "other/g", "old/new"} {
		if st := lstat(t, filepath.Join(dir, p)); st.Mtim.Nano() != Past.UnixNano() {
			t.Errorf("%s: mtime %v, want %v", p, time.Unix(0, st.Mtim.Nano()), Past)
		}
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	Tree{"a/b": File("b"), "l": Symlink("missing")}.Make(t, dir)
	when := Past.Add(time.Hour)
	Age(t, dir, when)
	for _, p := range []string{".", "a", "a/b", "l"} {
		if st := lstat(t, filepath.Join(dir, p)); st.Mtim.Nano() != when.UnixNano() {
			t.Errorf("%s: mtime %v, want %v", p, time.Unix(0, st.Mtim.Nano()), when)
		}
	}
}

func TestImmutable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	Tree{"f": File("f")}.Make(t, dir)
	path := filepath.Join(dir, "f")
	t.Run("set", func(t *testing.T) {
		Immutable(t, path)
		if err := os.WriteFile(path, []byte("x"), 0); err == nil {
			t.Errorf("writing an immutable file succeeded")
		}
	})
	if err := os.WriteFile(path, []byte("x"), 0); err != nil {
		t.Errorf("after the subtest ended, writing the file: %v, want the flag cleared", err)
	}
}
