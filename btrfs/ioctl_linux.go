//go:build linux

package btrfs

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl request numbers (_IOC(dir, 0x94, nr, size), linux/btrfs.h).
const (
	iocWrite = 1
	iocRead  = 2

	superMagic = 0x9123683e // BTRFS_SUPER_MAGIC
)

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | 0x94<<8 | nr }

var (
	iocSnapDestroy    = ioc(iocWrite, 15, 4096)
	iocTreeSearchV2   = ioc(iocRead|iocWrite, 17, 112)
	iocInoLookup      = ioc(iocRead|iocWrite, 18, 4096)
	iocSubvolGetFlags = ioc(iocRead, 25, 8)
	iocSubvolSetFlags = ioc(iocWrite, 26, 8)
	iocInoPaths       = ioc(iocRead|iocWrite, 35, 56)
	iocGetSubvolInfo  = ioc(iocRead, 60, 504)
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// OpenDir opens the directory at path for the ioctls, never following a
// symbolic link in its last component.
func OpenDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// Is reports whether path lies on a Btrfs filesystem.
func Is(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return uint32(st.Type) == superMagic, nil
}

// Top returns the top directory of the subvolume holding path: the highest
// of path and its parents on the same device (every subvolume has a device
// number of its own). path must be absolute and clean.
func Top(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return "", &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	dev := st.Dev
	top := path
	for top != "/" {
		up := filepath.Dir(top)
		if err := unix.Lstat(up, &st); err != nil {
			return "", &os.PathError{Op: "lstat", Path: up, Err: err}
		}
		if st.Dev != dev {
			break
		}
		top = up
	}
	if err := unix.Lstat(top, &st); err != nil {
		return "", &os.PathError{Op: "lstat", Path: top, Err: err}
	}
	if st.Ino != FirstFreeObjectID {
		return "", fmt.Errorf("%s: inode %d, not a subvolume's top directory: %w", top, st.Ino, ErrNotBtrfs)
	}
	return top, nil
}

// GetSubvolInfo returns the information of the subvolume fd lies in. It
// needs no privilege.
func GetSubvolInfo(fd int) (SubvolInfo, error) {
	var b [504]byte
	if err := ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&b[0])); err != nil {
		return SubvolInfo{}, fmt.Errorf("GET_SUBVOL_INFO: %w", err)
	}
	le := binary.LittleEndian
	ts := func(off int) time.Time {
		return time.Unix(int64(le.Uint64(b[off:])), int64(le.Uint32(b[off+8:])))
	}
	i := SubvolInfo{
		ID: le.Uint64(b[0:]), ParentID: le.Uint64(b[264:]), DirID: le.Uint64(b[272:]),
		Generation: le.Uint64(b[280:]), Flags: le.Uint64(b[288:]),
		CTransid: le.Uint64(b[344:]), OTransid: le.Uint64(b[352:]),
		STransid: le.Uint64(b[360:]), RTransid: le.Uint64(b[368:]),
		CTime: ts(376), OTime: ts(392),
	}
	copy(i.UUID[:], b[296:312])
	copy(i.ParentUUID[:], b[312:328])
	copy(i.ReceivedUUID[:], b[328:344])
	name := b[8:264]
	for n, c := range name {
		if c == 0 {
			name = name[:n]
			break
		}
	}
	i.Name = string(name)
	return i, nil
}

// Info returns the information of the subvolume holding the directory at
// path.
func Info(path string) (SubvolInfo, error) {
	fd, err := OpenDir(path)
	if err != nil {
		return SubvolInfo{}, err
	}
	defer unix.Close(fd)
	i, err := GetSubvolInfo(fd)
	if err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	return i, nil
}

// Syncfs commits the filesystem holding fd to disk: before a generation is
// read, so that delayed allocation is flushed into it (START_SYNC alone does
// not).
func Syncfs(fd int) error { return unix.Syncfs(fd) }

// ReadOnly reports whether the subvolume fd's directory tops is read-only.
func ReadOnly(fd int) (bool, error) {
	var f uint64
	if err := ioctl(fd, iocSubvolGetFlags, unsafe.Pointer(&f)); err != nil {
		return false, fmt.Errorf("SUBVOL_GETFLAGS: %w", err)
	}
	return f&subvolReadOnly != 0, nil
}

// SetReadOnly sets or clears the read-only flag of the subvolume whose top
// directory fd is.
func SetReadOnly(fd int, ro bool) error {
	var f uint64
	if err := ioctl(fd, iocSubvolGetFlags, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("SUBVOL_GETFLAGS: %w", err)
	}
	if ro {
		f |= subvolReadOnly
	} else {
		f &^= subvolReadOnly
	}
	if err := ioctl(fd, iocSubvolSetFlags, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("SUBVOL_SETFLAGS: %w", err)
	}
	return nil
}

// DeleteSnapshot deletes the subvolume at path, which must hold no other
// subvolume (snapshots never do: they are not recursive). Unlike
// containerd's SubvolDelete it does not walk the tree, so that it costs the
// same for a million files as for one. It needs CAP_SYS_ADMIN (or the
// user_subvol_rm_allowed mount option).
func DeleteSnapshot(path string) error {
	dir, name := filepath.Split(filepath.Clean(path))
	if len(name) == 0 || len(name) > 255 {
		return fmt.Errorf("%s: bad subvolume name", path)
	}
	fd, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var args [4096]byte // struct btrfs_ioctl_vol_args: s64 fd, char name[4088]
	copy(args[8:], name)
	if err := ioctl(fd, iocSnapDestroy, unsafe.Pointer(&args[0])); err != nil {
		return &os.PathError{Op: "delete subvolume", Path: path, Err: err}
	}
	return nil
}

const searchBuf = 64 << 10

// Search calls fn for every item matching k, in key order. It needs
// CAP_SYS_ADMIN. The kernel skips every node older than k.MinTransid, so a
// search for what changed since a transaction costs what changed, not the
// size of the tree.
func Search(fd int, k Key, fn func(Item) error) error {
	buf := make([]byte, 112+searchBuf)
	le := binary.LittleEndian
	for {
		le.PutUint64(buf[0:], k.Tree)
		le.PutUint64(buf[8:], k.MinObjectID)
		le.PutUint64(buf[16:], k.MaxObjectID)
		le.PutUint64(buf[24:], k.MinOffset)
		le.PutUint64(buf[32:], k.MaxOffset)
		le.PutUint64(buf[40:], k.MinTransid)
		le.PutUint64(buf[48:], k.MaxTransid)
		le.PutUint32(buf[56:], k.MinType)
		le.PutUint32(buf[60:], k.MaxType)
		le.PutUint32(buf[64:], ^uint32(0)) // nr_items: as many as fit
		clear(buf[68:104])
		le.PutUint64(buf[104:], searchBuf)
		err := ioctl(fd, iocTreeSearchV2, unsafe.Pointer(&buf[0]))
		runtime.KeepAlive(buf)
		if err != nil {
			return fmt.Errorf("TREE_SEARCH_V2 (tree %d): %w", k.Tree, err)
		}
		n := le.Uint32(buf[64:])
		if n == 0 {
			return nil
		}
		off := 112
		var last Item
		for range n {
			if off+32 > len(buf) {
				return fmt.Errorf("TREE_SEARCH_V2: result overruns the buffer")
			}
			h := buf[off:]
			it := Item{Transid: le.Uint64(h[0:]), ObjectID: le.Uint64(h[8:]), Offset: le.Uint64(h[16:]), Type: le.Uint32(h[24:])}
			l := int(le.Uint32(h[28:]))
			off += 32
			if off+l > len(buf) {
				return fmt.Errorf("TREE_SEARCH_V2: item overruns the buffer")
			}
			it.Data = buf[off : off+l]
			off += l
			if err := fn(it); err != nil {
				return err
			}
			last = it
		}
		// Go on after the last key returned.
		switch {
		case last.Offset < ^uint64(0):
			k.MinObjectID, k.MinType, k.MinOffset = last.ObjectID, last.Type, last.Offset+1
		case last.Type < 255:
			k.MinObjectID, k.MinType, k.MinOffset = last.ObjectID, last.Type+1, 0
		case last.ObjectID < ^uint64(0):
			k.MinObjectID, k.MinType, k.MinOffset = last.ObjectID+1, 0, 0
		default:
			return nil
		}
		if k.MinObjectID > k.MaxObjectID {
			return nil
		}
	}
}

// ChangedInodes calls fn with every inode of tree (0: fd's subvolume) whose
// inode item changed in a transaction after since: its own transid, not
// only its leaf's, is newer. Deleted inodes leave no item: their parent
// directories' inodes change.
func ChangedInodes(fd int, tree, since uint64, fn func(Inode) error) error {
	k := Key{
		Tree: tree, MinObjectID: FirstFreeObjectID, MaxObjectID: lastFreeObjectID,
		MaxOffset: ^uint64(0), MinTransid: since + 1, MaxTransid: ^uint64(0),
		MinType: TypeInodeItem, MaxType: TypeInodeItem,
	}
	return Search(fd, k, func(it Item) error {
		if it.Type != TypeInodeItem || it.Transid <= since {
			return nil
		}
		in, err := ParseInode(it.ObjectID, it.Data)
		if err != nil {
			return err
		}
		if in.Transid <= since {
			return nil
		}
		return fn(in)
	})
}

// InoPaths returns every path of inode ino of fd's subvolume, relative to
// the subvolume's top directory (no leading slash). An inode with no name
// left (deleted, or being deleted) has none. It needs CAP_SYS_ADMIN.
func InoPaths(fd int, ino uint64) ([]string, error) {
	size := 4096
	for {
		buf := make([]byte, size)
		var args [56]byte
		le := binary.LittleEndian
		le.PutUint64(args[0:], ino)
		le.PutUint64(args[8:], uint64(size))
		le.PutUint64(args[48:], uint64(uintptr(unsafe.Pointer(&buf[0]))))
		err := ioctl(fd, iocInoPaths, unsafe.Pointer(&args[0]))
		runtime.KeepAlive(buf)
		if err == unix.ENOENT {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("INO_PATHS (inode %d): %w", ino, err)
		}
		missing, cnt := le.Uint32(buf[4:]), le.Uint32(buf[8:])
		if missing > 0 && size < 16<<20 {
			size += int(missing) + 4096
			continue
		}
		val := buf[16:]
		out := make([]string, 0, cnt)
		for i := range int(cnt) {
			off := int(le.Uint64(val[8*i:]))
			if off < 0 || off >= len(val) {
				return nil, fmt.Errorf("INO_PATHS (inode %d): bad offset", ino)
			}
			s := val[off:]
			for n, c := range s {
				if c == 0 {
					s = s[:n]
					break
				}
			}
			out = append(out, string(s))
		}
		return out, nil
	}
}

// InoLookup returns the path of directory ino in tree (0: fd's
// subvolume), relative to the subvolume's top and ending in "/" (empty for
// the top itself). It needs CAP_SYS_ADMIN but for ino 256.
func InoLookup(fd int, tree, ino uint64) (string, error) {
	var args [4096]byte
	le := binary.LittleEndian
	le.PutUint64(args[0:], tree)
	le.PutUint64(args[8:], ino)
	if err := ioctl(fd, iocInoLookup, unsafe.Pointer(&args[0])); err != nil {
		return "", fmt.Errorf("INO_LOOKUP (tree %d, inode %d): %w", tree, ino, err)
	}
	name := args[16:]
	for n, c := range name {
		if c == 0 {
			name = name[:n]
			break
		}
	}
	return string(name), nil
}
