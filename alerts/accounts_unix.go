//go:build unix

package alerts

import (
	"io/fs"
	"os"
	"syscall"
)

// readNoFollow reads up to limit bytes of the regular file at path,
// refusing a symlink in the last name and anything but a regular file.
func readNoFollow(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrInvalid}
	}
	return readAll(f, limit)
}
