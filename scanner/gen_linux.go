package scanner

import (
	"encoding/binary"
	"errors"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fsIocGetVersion is FS_IOC_GETVERSION, _IOR('v', 1, long) on 64-bit Linux
// (the kernel writes an int: the inode's generation).
const fsIocGetVersion = 0x80087601

// inodeGen reads the generation of an open file: a number the filesystem
// gives each inode when it is allocated, which changes when the inode
// number is reused. ok is false where the filesystem has none.
func inodeGen(fd int) (gen uint64, ok bool, err error) {
	g, err := unix.IoctlGetUint32(fd, fsIocGetVersion)
	switch {
	case err == nil:
		return uint64(g), true, nil
	case errors.Is(err, unix.ENOTTY), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return 0, false, nil
	}
	return 0, false, err
}

// File handle types whose layout holds the inode number and generation
// (include/linux/exportfs.h; fs/btrfs/export.h).
const (
	fileIDIno32Gen   = 1    // ext2/3/4, xfs: u32 ino, u32 gen
	fileIDIno64Gen   = 0x81 // xfs with 64-bit inodes: u64 ino, u32 gen
	fileIDBtrfsNoPar = 0x4d // btrfs: u64 objectid, u64 root, u32 gen
)

// genAt returns the generation of name in dirfd, which must be inode ino,
// without following it. It decodes the file handle where its layout is
// known (one system call) and opens the file otherwise.
func genAt(dirfd int, name string, ino uint64) (gen uint64, ok bool, err error) {
	if g, ok := handleGen(dirfd, name, 0, ino); ok {
		return g, true, nil
	}
	fd, err := unix.Openat(dirfd, name, fileFlags|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		fd, err = unix.Openat(dirfd, name, fileFlags, 0)
	}
	if err != nil {
		return 0, false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, false, err
	}
	if st.Ino != ino {
		return 0, false, nil // replaced since its lstat: no generation to trust
	}
	return inodeGen(fd)
}

// handleGen decodes the generation from name's file handle if the handle
// has a known layout and names inode ino; flags are name_to_handle_at's
// (AT_EMPTY_PATH for dirfd's own).
func handleGen(dirfd int, name string, flags int, ino uint64) (uint64, bool) {
	h, ok := nameToHandle(dirfd, name, flags)
	if !ok {
		return 0, false
	}
	b, ne := h.f[:h.bytes], binary.NativeEndian
	switch {
	case h.typ == fileIDIno32Gen && len(b) == 8 && uint64(ne.Uint32(b)) == ino:
		return uint64(ne.Uint32(b[4:])), true
	case h.typ == fileIDIno64Gen && len(b) == 12 && ne.Uint64(b) == ino:
		return uint64(ne.Uint32(b[8:])), true
	case h.typ == fileIDBtrfsNoPar && len(b) >= 20 && ne.Uint64(b) == ino:
		return uint64(ne.Uint32(b[16:])), true
	}
	return 0, false
}

// fileHandle is struct file_handle with room for MAX_HANDLE_SZ bytes.
type fileHandle struct {
	bytes uint32
	typ   int32
	f     [128]byte
}

// nameToHandle is name_to_handle_at(2) without the heap: unix.NameToHandleAt
// allocates the handle and a copy of the name, for every file an unchanged
// check trusts. ok is false on any error.
func nameToHandle(dirfd int, name string, flags int) (h fileHandle, ok bool) {
	var cname [256]byte // a name from getdents is at most 255 bytes
	if len(name) >= len(cname) || strings.IndexByte(name, 0) >= 0 {
		return h, false
	}
	copy(cname[:], name)
	h.bytes = uint32(len(h.f))
	var mnt int32
	_, _, errno := unix.Syscall6(unix.SYS_NAME_TO_HANDLE_AT, uintptr(dirfd), uintptr(unsafe.Pointer(&cname[0])),
		uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&mnt)), uintptr(flags), 0)
	return h, errno == 0 && h.bytes <= uint32(len(h.f))
}
