package merkle

import (
	"bytes"
	"strings"
)

// Type is a file type.
type Type uint8

// File types.
const (
	TypeUnknown Type = iota
	TypeFile
	TypeDir
	TypeSymlink
	TypeFIFO
	TypeSocket
	TypeCharDev
	TypeBlockDev
)

var typeNames = [...]string{"unknown", "file", "dir", "symlink", "fifo", "socket", "char_device", "block_device"}

// String returns the ECS file.type style name of t.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// HashState says whether an entry's content hash is known, and if not, why.
type HashState uint8

// Hash states.
const (
	HashNone     HashState = iota // no content to hash, or content not monitored
	HashOK                        // Hash holds the BLAKE3-256 of the content
	HashSkipped                   // larger than the configured maximum size
	HashUnstable                  // kept changing while it was read
	HashFailed                    // could not be read; Entry.Err says why
)

var hashStateNames = [...]string{"none", "ok", "skipped", "unstable", "failed"}

func (s HashState) String() string {
	if int(s) < len(hashStateNames) {
		return hashStateNames[s]
	}
	return "invalid"
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Entry is everything vigil records about one path.
type Entry struct {
	Path     string // absolute and clean; names may hold any byte but NUL and '/'
	Type     Type
	Perm     uint32 // permission bits incl. setuid, setgid, sticky (07777)
	UID, GID uint32
	Size     int64
	Mtime    int64 // ns since the epoch
	Ctime    int64 // ns since the epoch
	Inode    uint64
	Nlink    uint64
	Dev      uint64 // device holding the entry; recorded, not attested
	// Gen is the inode's generation (FS_IOC_GETVERSION), valid when HasGen:
	// it changes when an inode number is reused. Recorded, not attested;
	// the scanner's stat cache compares it.
	Gen    uint64
	HasGen bool
	// Btime is the inode's birth time (statx's STATX_BTIME, ns since the
	// epoch), 0 where the filesystem keeps none. Only a new inode gets a new
	// one: the stat cache compares it, in place of the generation, where it
	// was recorded. Recorded, not attested.
	Btime    int64
	Rdev     uint64 // device a device node points to
	Target   string // symlink target
	Xattrs   []Xattr
	Flags    uint32 // inode flags, valid when HasFlags
	HasFlags bool

	Hash      [32]byte
	HashState HashState
	HashedAt  int64 // when Hash was taken (ns), a directory's flags and xattrs read; not attested

	// Attrs are the attributes monitored for this entry; only they are
	// attested and compared. AttrType is always monitored.
	Attrs Attr
	// Err is why the entry is incomplete (an lstat, xattr or read failure),
	// empty when it is complete.
	Err string
}

// Name returns the last element of e.Path ("/" for the root).
func (e *Entry) Name() string {
	if e.Path == "/" {
		return "/"
	}
	return e.Path[strings.LastIndexByte(e.Path, '/')+1:]
}

// Compare returns the monitored attributes that differ between old and cur.
// The attributes compared are those monitored by either entry's rule: a
// rule changed since the baseline (one that stops watching a file's
// content, say) takes effect only once the change is accepted, and cannot
// hide a change made meanwhile. A content hash
// that is not known on either side (skipped, unstable, failed) counts as
// changed unless both sides are in the same state: an unverifiable file is
// never reported as intact.
func Compare(old, cur *Entry) Attr {
	mask := old.Attrs | cur.Attrs | AttrType
	var d Attr
	if old.Type != cur.Type {
		d |= AttrType
	}
	if mask.Has(AttrContent) && !sameContent(old, cur) {
		d |= AttrContent
	}
	if old.Perm != cur.Perm {
		d |= AttrMode
	}
	if old.UID != cur.UID {
		d |= AttrUID
	}
	if old.GID != cur.GID {
		d |= AttrGID
	}
	if old.Size != cur.Size {
		d |= AttrSize
	}
	if old.Mtime != cur.Mtime {
		d |= AttrMtime
	}
	if old.Ctime != cur.Ctime {
		d |= AttrCtime
	}
	if old.Inode != cur.Inode {
		d |= AttrInode
	}
	if old.Nlink != cur.Nlink {
		d |= AttrNlink
	}
	if !sameXattrs(old.Xattrs, cur.Xattrs) {
		d |= AttrXattrs
	}
	if old.Target != cur.Target {
		d |= AttrTarget
	}
	if old.HasFlags != cur.HasFlags || old.Flags != cur.Flags {
		d |= AttrFlags
	}
	return d & mask
}

func sameContent(a, b *Entry) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case TypeCharDev, TypeBlockDev:
		return a.Rdev == b.Rdev
	case TypeFile:
		if a.HashState != b.HashState {
			return false
		}
		return a.HashState != HashOK || a.Hash == b.Hash
	}
	return true
}

func sameXattrs(a, b []Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
