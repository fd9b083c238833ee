//go:build unix

package nix

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// WriteNAR writes the NAR serialization of the file tree at path to w and
// returns the number of bytes written. Symlinks are recorded, never
// followed (path itself included); every file is opened relative to its
// directory's descriptor with O_NOFOLLOW|O_NONBLOCK and checked to be a
// regular file on the open handle, so a FIFO or device is never read: it,
// and a socket, make WriteNAR fail with [ErrUnsupportedType]. Entries are
// in byte order of their names, as Nix writes them. Errors are
// *fs.PathError naming the file.
func WriteNAR(w io.Writer, path string) (int64, error) {
	nw := &narWriter{w: w}
	err := nw.writeNAR(path)
	return nw.n, err
}

func (nw *narWriter) writeNAR(path string) error {
	path = filepath.Clean(path) // the entries' paths below are built on it (childPath)
	nw.str(narMagic)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	err := nw.node(unix.AT_FDCWD, path, path, &st)
	if err == nil {
		err = nw.err
	}
	return err
}

// node writes the node of the file name (relative to dirfd) whose lstat
// is st; path names it in errors.
func (nw *narWriter) node(dirfd int, name, path string, st *unix.Stat_t) error {
	if nw.stat != nil {
		nw.stat.record(path, st)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, name)
		if err != nil {
			return &fs.PathError{Op: "readlink", Path: path, Err: err}
		}
		nw.strs("(", "type", "symlink", "target", target, ")")
		return nw.err
	case unix.S_IFREG:
		return nw.regular(dirfd, name, path)
	case unix.S_IFDIR:
		return nw.directory(dirfd, name, path)
	}
	return &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupportedType}
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

// openat opens name relative to dirfd with O_NOFOLLOW|O_NONBLOCK (a FIFO
// that replaced a file since its lstat does not block the open) and
// returns the descriptor and what fstat says of it.
func openat(dirfd int, name, path string, flags int) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, name, flags|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, st, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return fd, st, nil
}

// bufPool holds the read buffers of regular files and directories.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

func (nw *narWriter) regular(dirfd int, name, path string) error {
	fd, st, err := openat(dirfd, name, path, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupportedType}
	}
	nw.strs("(", "type", "regular")
	if st.Mode&0o100 != 0 {
		nw.strs("executable", "")
	}
	nw.str("contents")
	size := uint64(st.Size)
	nw.length(size)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	// The NAR holds the size bytes the fstat counted: a file that shrank
	// while it was read is an error, not a NAR of another length (one that
	// grew is hashed as it was at the fstat, and its mtime moved).
	var done uint64
	for nw.err == nil && done < size {
		n, err := unix.Read(fd, buf[:min(uint64(len(buf)), size-done)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break // shrunk since the fstat
		}
		nw.write(buf[:n])
		done += uint64(n)
	}
	if nw.err != nil {
		return nw.err
	}
	if done != size {
		return &fs.PathError{Op: "read", Path: path, Err: errSizeChanged}
	}
	nw.pad(size)
	nw.str(")")
	return nw.err
}

var errSizeChanged = errors.New("file size changed while it was read")

// childPath is filepath.Join(dir, name) for a clean dir and a name read
// from a directory (no slash, never "." or ".."), without Join's Clean:
// an unchanged check spent 5 % of its CPU there.
func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// readNames lists the directory open at fd, sorted in byte order.
func readNames(fd int, path string) ([]string, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var names []string
	for {
		n, err := unix.ReadDirent(fd, *bp)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: path, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent((*bp)[:n], -1, names)
	}
	sortBytes(names)
	return names, nil
}

func (nw *narWriter) directory(dirfd int, name, path string) error {
	fd, st, err := openat(dirfd, name, path, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupportedType}
	}
	names, err := readNames(fd, path)
	if err != nil {
		return err
	}
	nw.strs("(", "type", "directory")
	for _, n := range names {
		child := childPath(path, n)
		var cst unix.Stat_t
		if err := unix.Fstatat(fd, n, &cst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "lstat", Path: child, Err: err}
		}
		nw.strs("entry", "(", "name", n, "node")
		if err := nw.node(fd, n, child, &cst); err != nil {
			return err
		}
		nw.str(")")
	}
	nw.str(")")
	return nw.err
}
