//go:build linux && (amd64 || arm64)

package scanner

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// lstatAt is fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) for a name
// held in a [dirNames], which a NUL follows: the system call takes it
// where it lies, where unix.Fstatat would copy it (an allocation per
// entry of a check). str is the same name as a string, for the fallback
// of other architectures.
func lstatAt(dirfd int, name []byte, str string, st *unix.Stat_t) error {
	_ = str
	_, _, e := unix.Syscall6(sysFstatat, uintptr(dirfd), uintptr(unsafe.Pointer(unsafe.SliceData(name))),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
