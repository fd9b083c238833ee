package merkle

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// PortableAttrs are the attributes a copy of a file on another host keeps:
// what makes two hosts built from one configuration equal where it
// matters. Inode numbers, link counts and ctimes are the host's own, and
// mtimes are left out unless a profile keeps them (a copy made by a package
// manager or rsync without -t has its own).
const PortableAttrs = AttrContent | AttrType | AttrMode | AttrUID | AttrGID | AttrSize | AttrXattrs | AttrTarget | AttrFlags

// Domain tags of the portable tree, apart from the attested tree's.
const (
	portableLeafTag = "vigil-portable-leaf-v1\x00"
	portableDirTag  = "vigil-portable-dir-v1\x00"
)

// PortableFlags are the inode flags a copy keeps, wherever it lives: the
// ones an administrator sets (chattr +i, +a, +d, +A, +S, +s, +u and the
// directory's +D). The others say how a filesystem stores the file (ext4's
// extents and inline data, Btrfs's nocow and compression) and differ
// between two copies on two filesystems by nature.
const PortableFlags = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x10000

// portable returns the part of e a copy keeps, as an entry to encode, and
// the attributes of it to encode: what e's rule monitors that a copy keeps
// (keep, a subset of AttrAll), and the type. A directory's size is its
// filesystem's (ext4 counts blocks, Btrfs name lengths) and is left out;
// flags are masked to PortableFlags, and a filesystem without flags reads
// as none set.
func portable(e *Entry, keep Attr) (*Entry, Attr) {
	mask := e.Attrs&keep | AttrType
	if e.Type == TypeDir {
		mask &^= AttrSize
	}
	if !mask.Has(AttrFlags) {
		return e, mask
	}
	c := *e
	c.Flags &= PortableFlags
	c.HasFlags = true
	return &c, mask
}

// PortableLeafHash is [LeafHash] of the portable tree: the entry's name and
// the attributes of keep its rule monitors.
func PortableLeafHash(e *Entry, keep Attr, buf []byte) (Hash, []byte) {
	buf = append(buf[:0], portableLeafTag...)
	buf = appendBytes(buf, e.Name())
	pe, mask := portable(e, keep)
	buf = appendMasked(buf, pe, mask)
	return blake3.Sum256(buf), buf
}

// PortableDirHash is [DirHash] of the portable tree.
func PortableDirHash(e *Entry, keep Attr, count uint64, children Hash) Hash {
	b := make([]byte, 0, 128)
	b = append(b, portableDirTag...)
	b = appendBytes(b, e.Name())
	pe, mask := portable(e, keep)
	b = appendMasked(b, pe, mask)
	b = binary.LittleEndian.AppendUint64(b, count)
	b = append(b, children[:]...)
	return blake3.Sum256(b)
}

// portableDirHasher is a [DirHasher] of the portable tree.
type portableDirHasher struct {
	e    *Entry
	keep Attr
	tree treeHasher
}

func (d *portableDirHasher) reset(e *Entry)       { d.e = e; d.tree.reset() }
func (d *portableDirHasher) add(_ string, h Hash) { d.tree.add(h) }
func (d *portableDirHasher) sum() Hash {
	return PortableDirHash(d.e, d.keep, d.tree.count, d.tree.sum())
}

// NewPortableBuilder returns a [Builder] of the portable tree: node hashes
// over what a copy of the tree on another host keeps (the attributes of
// keep, see [PortableAttrs]), bound to names and shaped as the attested
// tree. Two hosts with equal portable roots hold equal files where their
// rules look; the entries to leave out (a host's own: machine-id, host
// keys) are the caller's to not add.
func NewPortableBuilder(keep Attr, emit func(Node) error) *Builder {
	b := NewBuilder(emit)
	b.portable, b.keep = true, keep
	return b
}
