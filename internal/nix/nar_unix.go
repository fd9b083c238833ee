//go:build unix

package nix

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

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
	nw.str(narMagic)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nw.n, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	err := nw.node(unix.AT_FDCWD, path, path, &st)
	if err == nil {
		err = nw.err
	}
	return nw.n, err
}

// node writes the node of the file name (relative to dirfd) whose lstat
// is st; path names it in errors.
func (nw *narWriter) node(dirfd int, name, path string, st *unix.Stat_t) error {
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

func openat(dirfd int, name, path string, flags int) (*os.File, unix.Stat_t, error) {
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
		return nil, st, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, st, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), st, nil
}

func (nw *narWriter) regular(dirfd int, name, path string) error {
	f, st, err := openat(dirfd, name, path, 0)
	if err != nil {
		return err
	}
	defer f.Close()
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
	if nw.err != nil {
		return nw.err
	}
	// The file must hold exactly size bytes: a file that grew or shrank
	// while it was read is an error, not a NAR of another length.
	k, err := io.Copy(nwWriter{nw}, io.LimitReader(f, int64(size)+1))
	if err != nil {
		return &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if nw.err != nil {
		return nw.err
	}
	if uint64(k) != size {
		return &fs.PathError{Op: "read", Path: path, Err: errors.New("file size changed while it was read")}
	}
	nw.pad(size)
	nw.str(")")
	return nw.err
}

// nwWriter lets io.Copy write through a narWriter, counting bytes.
type nwWriter struct{ nw *narWriter }

func (x nwWriter) Write(b []byte) (int, error) {
	x.nw.write(b)
	if x.nw.err != nil {
		return 0, x.nw.err
	}
	return len(b), nil
}

func (nw *narWriter) directory(dirfd int, name, path string) error {
	f, st, err := openat(dirfd, name, path, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer f.Close()
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupportedType}
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: path, Err: err}
	}
	sortBytes(names)
	nw.strs("(", "type", "directory")
	fd := int(f.Fd())
	for _, n := range names {
		child := filepath.Join(path, n)
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
