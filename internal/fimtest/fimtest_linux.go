//go:build linux

package fimtest

import (
	"errors"

	"golang.org/x/sys/unix"
)

// mknod makes a character device of number rdev at path.
func mknod(path string, rdev uint64) error {
	return wrap("mknod", path, unix.Mknod(path, unix.S_IFCHR|0o644, int(rdev)))
}

// makeSocket binds a unix socket at path and closes it, which leaves the
// socket file behind.
func makeSocket(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return wrap("socket", path, err)
	}
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	return errors.Join(wrap("bind", path, err), unix.Close(fd))
}

// setFlag sets or clears one inode flag of path.
func setFlag(path string, flag int, on bool) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return wrap("open", path, err)
	}
	defer unix.Close(fd)
	cur, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return wrap("getflags", path, err)
	}
	f := int(cur) &^ flag
	if on {
		f |= flag
	}
	return wrap("setflags", path, unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, f))
}
