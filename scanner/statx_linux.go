package scanner

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// statxMask is what the scanner asks statx for: what fstatat returns, and
// the birth time.
const statxMask = unix.STATX_BASIC_STATS | unix.STATX_BTIME

// noName is the empty path that statx takes with AT_EMPTY_PATH.
var noName [1]byte

// statx is statx(2) of the NUL-terminated name at p in dirfd. statx has
// one number and one struct on every architecture, so this is the only
// version; it takes the name where it lies, without the copy unix.Statx
// makes (an allocation per entry of a check).
func statx(dirfd int, p *byte, flags int, st *unix.Stat_t) (btime int64, err error) {
	var sx unix.Statx_t
	_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags),
		statxMask, uintptr(unsafe.Pointer(&sx)), 0)
	if e != 0 {
		return 0, e
	}
	return fromStatx(&sx, st), nil
}

// lstatAt is lstat of name in dirfd into st, with the birth time where the
// filesystem has one (0 where not). name is held in a [dirNames], which a
// NUL follows.
func lstatAt(dirfd int, name []byte, st *unix.Stat_t) (int64, error) {
	return statx(dirfd, unsafe.SliceData(name), unix.AT_SYMLINK_NOFOLLOW, st)
}

// statxAt is statx(dirfd, name, flags) into st, returning the birth time (0
// where the filesystem has none).
func statxAt(dirfd int, name string, flags int, st *unix.Stat_t) (int64, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	return statx(dirfd, p, flags, st)
}

// fstatx is fstat of fd with the birth time.
func fstatx(fd int, st *unix.Stat_t) (int64, error) {
	return statx(fd, &noName[0], unix.AT_EMPTY_PATH, st)
}

// fromStatx fills st from sx as fstatat would have, and returns the birth
// time in ns since the epoch, 0 if sx has none.
func fromStatx(sx *unix.Statx_t, st *unix.Stat_t) int64 {
	*st = unix.Stat_t{
		Ino:  sx.Ino,
		Mode: uint32(sx.Mode),
		Uid:  sx.Uid,
		Gid:  sx.Gid,
		Size: int64(sx.Size),
		Atim: statxTime(sx.Atime),
		Mtim: statxTime(sx.Mtime),
		Ctim: statxTime(sx.Ctime),
	}
	setUint(&st.Dev, unix.Mkdev(sx.Dev_major, sx.Dev_minor))
	setUint(&st.Rdev, unix.Mkdev(sx.Rdev_major, sx.Rdev_minor))
	setUint(&st.Nlink, uint64(sx.Nlink))
	setInt(&st.Blksize, int64(sx.Blksize))
	setInt(&st.Blocks, int64(sx.Blocks))
	if sx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
}

func statxTime(t unix.StatxTimestamp) unix.Timespec {
	return unix.NsecToTimespec(t.Sec*1e9 + int64(t.Nsec))
}

// setInt sets a signed field whose width differs between architectures.
func setInt[T ~int32 | ~int64](dst *T, v int64) { *dst = T(v) }
