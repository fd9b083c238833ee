package btrfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Object ids and key types (linux/btrfs_tree.h).
const (
	// FirstFreeObjectID is the inode number of a subvolume's top
	// directory.
	FirstFreeObjectID = 256
	lastFreeObjectID  = ^uint64(0) - 255 // -256ULL

	TypeInodeItem   = 1
	TypeInodeRef    = 12
	TypeInodeExtref = 13
	TypeXattrItem   = 24
	TypeDirItem     = 84
	TypeDirIndex    = 96
	TypeExtentData  = 108
	TypeRootRef     = 156

	// RootTreeObjectID is the root tree: it holds the subvolumes' ROOT_REF items.
	RootTreeObjectID = 1

	subvolReadOnly = 1 << 1 // BTRFS_SUBVOL_RDONLY, in the flags ioctls
	infoReadOnly   = 1 << 0 // BTRFS_ROOT_SUBVOL_RDONLY, in GET_SUBVOL_INFO
)

// UUID is a subvolume's UUID.
type UUID [16]byte

func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// IsZero reports whether u is all zeros (none).
func (u UUID) IsZero() bool { return u == UUID{} }

// SubvolInfo is what GET_SUBVOL_INFO says of a subvolume.
type SubvolInfo struct {
	ID, ParentID, DirID uint64
	// Generation moves with balance and snapshots too: never use it to
	// tell whether anything changed (CTransid does that).
	Generation                     uint64
	Flags                          uint64
	Name                           string
	UUID, ParentUUID, ReceivedUUID UUID
	// CTransid is the transaction of the subvolume's last change; OTransid
	// the one it was created in.
	CTransid, OTransid, STransid, RTransid uint64
	CTime, OTime                           time.Time
}

// ReadOnly reports whether the subvolume is read-only.
func (i SubvolInfo) ReadOnly() bool { return i.Flags&infoReadOnly != 0 }

// Key is a search key: the items of tree Tree between (MinObjectID,
// MinType, MinOffset) and (MaxObjectID, MaxType, MaxOffset) in key order,
// found in leaves written in transactions MinTransid to MaxTransid. The
// ranges bound the compound key, not each field: filter on Item.Type.
type Key struct {
	// Tree is the tree to search: a subvolume's id, or 0 for the one the
	// file descriptor lies in.
	Tree                     uint64
	MinObjectID, MaxObjectID uint64
	MinOffset, MaxOffset     uint64
	MinTransid, MaxTransid   uint64
	MinType, MaxType         uint32
}

// Item is one item a search found.
type Item struct {
	// Transid is the transaction of the leaf holding the item, not of the
	// item (a leaf is written whole).
	Transid, ObjectID, Offset uint64
	Type                      uint32
	Data                      []byte // valid only during the callback
}

// Timespec is an on-disk time.
type Timespec struct {
	Sec  uint64
	Nsec uint32
}

// Nanos returns t in nanoseconds since the epoch, as the scanner records
// times.
func (t Timespec) Nanos() int64 { return int64(t.Sec)*1e9 + int64(t.Nsec) }

// Inode is an inode item.
type Inode struct {
	Ino uint64
	// Generation is the transaction the inode was born in: with Ino it
	// names an inode across inode number reuse.
	Generation uint64
	// Transid is the transaction of the inode's last change (content or
	// metadata; also of atime updates).
	Transid, Size, Nbytes      uint64
	Nlink, UID, GID, Mode      uint32
	Rdev, Flags, Sequence      uint64
	Atime, Ctime, Mtime, Otime Timespec
}

// ParseInode decodes an inode item (160 bytes) of inode ino.
func ParseInode(ino uint64, b []byte) (Inode, error) {
	if len(b) < 160 {
		return Inode{}, fmt.Errorf("inode %d: item of %d bytes, want 160", ino, len(b))
	}
	le := binary.LittleEndian
	ts := func(off int) Timespec { return Timespec{le.Uint64(b[off:]), le.Uint32(b[off+8:])} }
	return Inode{
		Ino: ino, Generation: le.Uint64(b[0:]), Transid: le.Uint64(b[8:]), Size: le.Uint64(b[16:]),
		Nbytes: le.Uint64(b[24:]), Nlink: le.Uint32(b[40:]), UID: le.Uint32(b[44:]), GID: le.Uint32(b[48:]),
		Mode: le.Uint32(b[52:]), Rdev: le.Uint64(b[56:]), Flags: le.Uint64(b[64:]), Sequence: le.Uint64(b[72:]),
		Atime: ts(112), Ctime: ts(124), Mtime: ts(136), Otime: ts(148),
	}, nil
}

// ErrUntrusted says a snapshot is not what was recorded of it.
var ErrUntrusted = errors.New("snapshot not trusted")

// Recorded is what a baseline recorded of a snapshot it was taken with.
type Recorded struct {
	Path               string
	UUID               string
	OTransid, CTransid uint64
}
