//go:build !linux

package fimtest

// Character devices, sockets made this way and inode flags need Linux here:
// see [ErrUnsupported].

func mknod(path string, rdev uint64) error { return wrap("mknod", path, ErrUnsupported) }

func makeSocket(path string) error { return wrap("socket", path, ErrUnsupported) }

func setFlag(path string, flag int, on bool) error { return wrap("setflags", path, ErrUnsupported) }
