// Package fimtest builds real file trees in temporary directories for vigil's
// tests, from a declarative description:
//
//	fimtest.Tree{
//		"etc/passwd":  fimtest.File("root:x:0:0::/root:/bin/sh\n"),
//		"bin/su":      fimtest.File("\x7fELF").Mode(0o4755),
//		"secret":      fimtest.Dir(0o700),
//		"lib":         fimtest.Symlink("usr/lib"),
//		"etc/passwd2": fimtest.Hardlink("etc/passwd"),
//	}.Make(t, t.TempDir())
//
// [Tree.Make] gives every entry it creates the modification time [Past], so
// that the scanner's stat cache can trust the entries' mtimes (see
// [SleepPastRacy] for their ctimes).
//
// Only tests import this package.
package fimtest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Past is the access and modification time [Tree.Make] and [Age] give
// entries: well before any test runs, and a whole second.
var Past = time.Date(2020, time.January, 2, 3, 4, 5, 0, time.UTC)

// Tree describes a file tree: slash-separated paths relative to its root,
// each mapped to what is there. Directories that hold listed paths but are
// not listed themselves are made with mode 0755.
type Tree map[string]Node

type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
	kindHardlink
	kindFIFO
	kindCharDev
	kindSocket
)

// Node is one entry of a [Tree]; make it with [File], [Sparse], [Dir],
// [Symlink], [Hardlink], [FIFO], [CharDev] or [Socket].
type Node struct {
	kind    kind
	data    string // file content, symlink target, hard link source
	size    int64  // size of a sparse file, when data is empty
	perm    uint32
	hasPerm bool
	rdev    uint64
}

// File is a regular file holding content, mode 0644.
func File(content string) Node {
	return Node{kind: kindFile, data: content, perm: 0o644, hasPerm: true}
}

// Sparse is a regular file of size bytes holding no data blocks: it reads
// as zeros. Mode 0644.
func Sparse(size int64) Node { return Node{kind: kindFile, size: size, perm: 0o644, hasPerm: true} }

// Dir is a directory with permission bits perm (07777, as chmod takes them).
func Dir(perm uint32) Node { return Node{kind: kindDir, perm: perm, hasPerm: true} }

// Symlink is a symbolic link to target, which need not exist.
func Symlink(target string) Node { return Node{kind: kindSymlink, data: target} }

// Hardlink is another name for the tree's path to (relative to the root),
// made after every other entry.
func Hardlink(to string) Node { return Node{kind: kindHardlink, data: to} }

// FIFO is a named pipe, mode 0644.
func FIFO() Node { return Node{kind: kindFIFO, perm: 0o644, hasPerm: true} }

// CharDev is a character device node for the device major:minor, mode 0644.
// Making one needs CAP_MKNOD.
func CharDev(major, minor uint32) Node {
	return Node{kind: kindCharDev, rdev: unix.Mkdev(major, minor), perm: 0o644, hasPerm: true}
}

// Socket is a unix domain socket file that no process listens on. Its
// absolute path must fit in 107 bytes.
func Socket() Node { return Node{kind: kindSocket, perm: 0o755, hasPerm: true} }

// Mode returns n with permission bits perm (07777, setuid, setgid and
// sticky included). It has no effect on symlinks and hard links.
func (n Node) Mode(perm uint32) Node {
	if n.kind != kindSymlink && n.kind != kindHardlink {
		n.perm, n.hasPerm = perm, true
	}
	return n
}

// Make creates the tree in dir, which must exist, and sets the access and
// modification time of every entry it creates, directories it had to make
// included, to [Past]. Entries that existed before are left alone, dir
// included (see [Age]). It fails the test on any error.
func (tr Tree) Make(t testing.TB, dir string) {
	t.Helper()
	paths := make([]string, 0, len(tr))
	for p := range tr {
		if p == "" || filepath.IsAbs(p) || filepath.Clean(p) != p || strings.HasPrefix(p, "../") {
			t.Fatalf("fimtest: %q is not a clean relative path", p)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths) // a directory sorts before everything below it
	var made []string
	for _, hardlinks := range []bool{false, true} {
		for _, p := range paths {
			n := tr[p]
			if (n.kind == kindHardlink) != hardlinks {
				continue
			}
			full := filepath.Join(dir, p)
			made = append(made, mkdirs(t, dir, filepath.Dir(p))...)
			if err := n.make(dir, full); err != nil {
				t.Fatalf("fimtest: %v", err)
			}
			made = append(made, full)
		}
	}
	// Permissions last, deepest first: a directory made read-only must not
	// stop its subtree from being made.
	for _, p := range slices.Backward(paths) {
		if n := tr[p]; n.hasPerm {
			if err := unix.Chmod(filepath.Join(dir, p), n.perm); err != nil {
				t.Fatalf("fimtest: chmod %s: %v", p, err)
			}
		}
	}
	for _, p := range made {
		if err := setTimes(p, Past); err != nil {
			t.Fatalf("fimtest: %v", err)
		}
	}
}

// mkdirs makes the directory rel in dir and its missing parents, mode 0755,
// and returns the paths it made.
func mkdirs(t testing.TB, dir, rel string) []string {
	t.Helper()
	if rel == "." {
		return nil
	}
	made := mkdirs(t, dir, filepath.Dir(rel))
	full := filepath.Join(dir, rel)
	err := os.Mkdir(full, 0o755)
	switch {
	case err == nil:
		made = append(made, full)
	case !errors.Is(err, os.ErrExist):
		t.Fatalf("fimtest: %v", err)
	}
	return made
}

// make creates n at path in the tree at root.
func (n Node) make(root, path string) error {
	switch n.kind {
	case kindHardlink:
		return os.Link(filepath.Join(root, n.data), path)
	case kindFile:
		return writeFile(path, n.data, n.size)
	case kindDir:
		return os.Mkdir(path, 0o755)
	case kindSymlink:
		return os.Symlink(n.data, path)
	case kindFIFO:
		return wrap("mkfifo", path, unix.Mkfifo(path, 0o644))
	case kindCharDev:
		return mknod(path, n.rdev)
	case kindSocket:
		return makeSocket(path)
	}
	return wrap("make", path, errors.New("unknown node kind"))
}

func writeFile(path, content string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil && content == "" && size > 0 {
		err = f.Truncate(size)
	}
	return errors.Join(err, f.Close())
}

func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}

// Age sets the access and modification time of root and of everything below
// it to when, without following symlinks. Their ctimes become now.
func Age(t testing.TB, root string, when time.Time) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return setTimes(p, when)
	})
	if err != nil {
		t.Fatalf("fimtest: %v", err)
	}
}

// setTimes sets the access and modification time of path, not following a
// symlink.
func setTimes(path string, when time.Time) error {
	ts := unix.NsecToTimespec(when.UnixNano())
	return wrap("utimensat", path, unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
}

// RacyWindow is how long [SleepPastRacy] waits: a little more than the
// scanner's racy window, one second.
const RacyWindow = 1100 * time.Millisecond

// SleepPastRacy waits [RacyWindow]. The scanner's stat cache distrusts the
// recorded hash of a file whose mtime or ctime lies within one second before
// the moment the hash was taken, and hashes such a file again. [Tree.Make]
// sets mtimes into the past, but no system call sets a ctime: a test that
// needs the stat cache to hit must wait this long between the last change to
// its tree and the scan that takes the baseline.
func SleepPastRacy() { time.Sleep(RacyWindow) }

// ImmutableFlag is FS_IMMUTABLE_FL, the inode flag chattr +i sets
// (linux/fs.h).
const ImmutableFlag = 0x10

// Immutable sets the immutable inode flag (chattr +i) on path, and clears it
// when the test ends so that the temporary directory can be removed. It
// needs CAP_LINUX_IMMUTABLE and a filesystem with inode flags.
func Immutable(t testing.TB, path string) {
	t.Helper()
	if err := setFlag(path, ImmutableFlag, true); err != nil {
		t.Fatalf("fimtest: %v", err)
	}
	t.Cleanup(func() {
		if err := setFlag(path, ImmutableFlag, false); err != nil {
			t.Errorf("fimtest: %v", err)
		}
	})
}
