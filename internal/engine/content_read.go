package engine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
)

// readContent reads up to limit+1 bytes of the regular file at path without
// following a symlink anywhere in it (openat2 where the kernel has it, else
// O_NOFOLLOW on the last name) and without blocking on a FIFO: anything but
// a regular file is refused after the open, before a read.
func readContent(path string, limit int64) ([]byte, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	var f *os.File
	fd, err := fsys.Openat2(unix.AT_FDCWD, path, flags, 0)
	switch {
	case err == nil:
		f = os.NewFile(uintptr(fd), path)
	case errors.Is(err, fsys.ErrUnsupported) || errors.Is(err, syscall.ENOSYS):
		if f, err = os.OpenFile(path, flags|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0); err != nil {
			return nil, err
		}
	default:
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrInvalid}
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}
