package merkle

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// Version is a node hash scheme. [V2] is the one vigil writes; [V1] is kept
// to verify databases written before it, for their migration.
type Version uint8

// Node hash schemes.
const (
	// V1 hashed a directory over its whole child list, in one stream.
	V1 Version = 1
	// V2 binds every node to its name and hashes a directory's children as
	// a binary Merkle tree (RFC 6962 shape), so that one path is proven
	// with O(depth x log2 fan-out) hashes.
	V2 Version = 2
)

// Domain tags keep leaf and directory hashes apart; the version changes
// whenever the encoding does. Interior nodes of a directory's child tree are
// hashed in BLAKE3's keyed mode with a key derived from their own context
// string, which separates them from every unkeyed hash and keeps them at one
// 64-byte block.
const (
	leafTag      = "vigil-leaf-v2\x00"
	dirTag       = "vigil-dir-v2\x00"
	interiorCtx  = "vigil 2026-12 merkle v2 directory child tree interior node"
	maxTreeDepth = 64
)

var interiorKey = func() []byte {
	k := make([]byte, 32)
	blake3.DeriveKey(interiorCtx, nil, k)
	return k
}()

// Hash is a node hash.
type Hash = [32]byte

// AppendAttested appends the canonical encoding of the attributes of e that
// are attested: the monitored attribute set, the type, and each monitored
// attribute in [Attr] order, little-endian, variable-length fields prefixed
// with their length. Equal encodings mean equal monitored attributes.
func AppendAttested(b []byte, e *Entry) []byte { return appendMasked(b, e, e.Attrs|AttrType) }

// appendMasked is [AppendAttested] of the attributes in mask.
func appendMasked(b []byte, e *Entry, mask Attr) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(mask))
	b = append(b, byte(e.Type))
	if mask.Has(AttrContent) {
		switch e.Type {
		case TypeFile:
			b = append(b, byte(e.HashState))
			if e.HashState == HashOK {
				b = append(b, e.Hash[:]...)
			}
		case TypeCharDev, TypeBlockDev:
			b = binary.LittleEndian.AppendUint64(b, e.Rdev)
		}
	}
	if mask.Has(AttrMode) {
		b = binary.LittleEndian.AppendUint32(b, e.Perm)
	}
	if mask.Has(AttrUID) {
		b = binary.LittleEndian.AppendUint32(b, e.UID)
	}
	if mask.Has(AttrGID) {
		b = binary.LittleEndian.AppendUint32(b, e.GID)
	}
	if mask.Has(AttrSize) {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Size))
	}
	if mask.Has(AttrMtime) {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Mtime))
	}
	if mask.Has(AttrCtime) {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Ctime))
	}
	if mask.Has(AttrInode) {
		b = binary.LittleEndian.AppendUint64(b, e.Inode)
	}
	if mask.Has(AttrNlink) {
		b = binary.LittleEndian.AppendUint64(b, e.Nlink)
	}
	if mask.Has(AttrXattrs) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Xattrs)))
		for _, x := range e.Xattrs {
			b = appendBytes(b, x.Name)
			b = appendBytes(b, x.Value)
		}
	}
	if mask.Has(AttrTarget) {
		b = appendBytes(b, e.Target)
	}
	if mask.Has(AttrFlags) {
		if e.HasFlags {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.LittleEndian.AppendUint32(b, e.Flags)
	}
	return b
}

func appendBytes[T string | []byte](b []byte, s T) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// LeafHash returns the node hash of an entry that has no children: every
// entry but a directory. It covers the entry's name and its attested
// attributes. buf is scratch space that may be reused across calls (pass nil
// if you have none); the possibly grown buffer is returned.
func LeafHash(e *Entry, buf []byte) (Hash, []byte) {
	buf = append(buf[:0], leafTag...)
	buf = appendBytes(buf, e.Name())
	buf = AppendAttested(buf, e)
	return blake3.Sum256(buf), buf
}

// DirHash returns the node hash of directory e with count children whose
// child tree has root children (see [ChildRoot]).
func DirHash(e *Entry, count uint64, children Hash) Hash {
	b := make([]byte, 0, 128)
	b = append(b, dirTag...)
	b = appendBytes(b, e.Name())
	b = AppendAttested(b, e)
	b = binary.LittleEndian.AppendUint64(b, count)
	b = append(b, children[:]...)
	return blake3.Sum256(b)
}

// interior returns the hash of an interior node of a child tree.
func interior(h *blake3.Hasher, l, r *Hash) Hash {
	var buf [64]byte
	copy(buf[:32], l[:])
	copy(buf[32:], r[:])
	h.Reset()
	h.Write(buf[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

func newInteriorHasher() *blake3.Hasher {
	h, err := blake3.NewKeyed(interiorKey)
	if err != nil {
		panic(err) // the key has the right length
	}
	return h
}

// ChildRoot returns the root of the binary Merkle tree over a directory's
// child node hashes in name order, shaped as in RFC 6962 (the left subtree
// holds the largest power of two of leaves smaller than their number). The
// root of no children is the zero hash; of one, that child's hash.
func ChildRoot(children []Hash) Hash {
	var t treeHasher
	for i := range children {
		t.add(children[i])
	}
	return t.sum()
}

// treeHasher computes a [ChildRoot] from leaves added one at a time, holding
// one hash per set bit of the count: memory is O(log n).
type treeHasher struct {
	h     *blake3.Hasher
	stack [maxTreeDepth]Hash // perfect subtrees, largest first
	sizes [maxTreeDepth]uint64
	n     int // entries in stack
	count uint64
}

func (t *treeHasher) reset() { t.n, t.count = 0, 0 }

func (t *treeHasher) add(leaf Hash) {
	if t.h == nil {
		t.h = newInteriorHasher()
	}
	t.stack[t.n], t.sizes[t.n] = leaf, 1
	t.n++
	t.count++
	for t.n > 1 && t.sizes[t.n-1] == t.sizes[t.n-2] {
		t.stack[t.n-2] = interior(t.h, &t.stack[t.n-2], &t.stack[t.n-1])
		t.sizes[t.n-2] *= 2
		t.n--
	}
}

func (t *treeHasher) sum() Hash {
	if t.n == 0 {
		return Hash{}
	}
	r := t.stack[t.n-1]
	for i := t.n - 2; i >= 0; i-- {
		r = interior(t.h, &t.stack[i], &r)
	}
	return r
}

// DirHasher computes a directory's node hash from its own attributes and its
// children's node hashes, which must be added in name order.
type DirHasher struct {
	e    *Entry
	tree treeHasher
}

// NewDirHasher returns a hasher for directory e.
func NewDirHasher(e *Entry) *DirHasher {
	d := &DirHasher{}
	d.Reset(e)
	return d
}

// Reset starts over for directory e.
func (d *DirHasher) Reset(e *Entry) {
	d.e = e
	d.tree.reset()
}

// Add adds the next child's node hash.
func (d *DirHasher) Add(h Hash) { d.tree.add(h) }

// Sum returns the directory's node hash.
func (d *DirHasher) Sum() Hash { return DirHash(d.e, d.tree.count, d.tree.sum()) }
