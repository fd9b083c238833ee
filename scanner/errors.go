package scanner

import "errors"

var (
	// ErrSymlinkPath means a root's path goes through a symbolic link, which
	// the scanner does not follow.
	ErrSymlinkPath = errors.New("path goes through a symbolic link or other non-directory")
	// ErrUnlisted marks the error of a directory (or root) whose contents
	// could not be read: what lies below it is unknown, not gone.
	ErrUnlisted = errors.New("contents not readable")
	// ErrUnsupported is what [Scan] returns on a system other than Linux:
	// it needs openat2, getdents and the inode ioctls.
	ErrUnsupported = errors.New("scanning needs Linux")
)
