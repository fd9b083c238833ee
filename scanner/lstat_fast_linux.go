//go:build linux && (amd64 || arm64)

package scanner

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// lstatAt is lstat of name in dirfd: statx(dirfd, name,
// AT_SYMLINK_NOFOLLOW) into st, with the birth time where the filesystem
// has one (0 where not). name is held in a [dirNames], which a NUL
// follows: the system call takes it where it lies, where unix.Statx would
// copy it (an allocation per entry of a check). str is the same name as a
// string, for the fallback of other architectures.
func lstatAt(dirfd int, name []byte, str string, st *unix.Stat_t) (btime int64, err error) {
	_ = str
	var sx unix.Statx_t
	_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(unsafe.SliceData(name))),
		unix.AT_SYMLINK_NOFOLLOW, statxMask, uintptr(unsafe.Pointer(&sx)), 0)
	if e != 0 {
		return 0, e
	}
	return fromStatx(&sx, st), nil
}
