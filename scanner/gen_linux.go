package scanner

import (
	"encoding/binary"
	"errors"

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
	h, _, err := unix.NameToHandleAt(dirfd, name, flags)
	if err != nil {
		return 0, false
	}
	b, ne := h.Bytes(), binary.NativeEndian
	switch {
	case h.Type() == fileIDIno32Gen && len(b) == 8 && uint64(ne.Uint32(b)) == ino:
		return uint64(ne.Uint32(b[4:])), true
	case h.Type() == fileIDIno64Gen && len(b) == 12 && ne.Uint64(b) == ino:
		return uint64(ne.Uint32(b[8:])), true
	case h.Type() == fileIDBtrfsNoPar && len(b) >= 20 && ne.Uint64(b) == ino:
		return uint64(ne.Uint32(b[16:])), true
	}
	return 0, false
}
