package merkle

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// Domain tags keep leaf and directory hashes apart; the version changes
// whenever the encoding does.
const (
	leafTag = "vigil-leaf-v1\x00"
	dirTag  = "vigil-dir-v1\x00"
)

// Hash is a node hash.
type Hash = [32]byte

// AppendAttested appends the canonical encoding of the attributes of e that
// are attested: the monitored attribute set, the type, and each monitored
// attribute in [Attr] order, little-endian, variable-length fields prefixed
// with their length. Equal encodings mean equal monitored attributes.
func AppendAttested(b []byte, e *Entry) []byte {
	mask := e.Attrs | AttrType
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
// entry but a directory. buf is scratch space that may be reused across calls
// (pass nil if you have none); the possibly grown buffer is returned.
func LeafHash(e *Entry, buf []byte) (Hash, []byte) {
	buf = append(buf[:0], leafTag...)
	buf = AppendAttested(buf, e)
	return blake3.Sum256(buf), buf
}

// DirHasher computes a directory's node hash from its own attributes and its
// children, which must be added in name order.
type DirHasher struct {
	h   *blake3.Hasher
	buf []byte
}

// NewDirHasher returns a hasher for directory e.
func NewDirHasher(e *Entry) *DirHasher {
	d := &DirHasher{h: blake3.New()}
	d.Reset(e)
	return d
}

// Reset starts over for directory e.
func (d *DirHasher) Reset(e *Entry) {
	d.h.Reset()
	d.buf = append(d.buf[:0], dirTag...)
	d.buf = AppendAttested(d.buf, e)
	d.h.Write(d.buf)
}

// Add adds a child by name and node hash.
func (d *DirHasher) Add(name string, h Hash) {
	d.buf = appendBytes(d.buf[:0], name)
	d.buf = append(d.buf, h[:]...)
	d.h.Write(d.buf)
}

// Sum returns the directory's node hash.
func (d *DirHasher) Sum() Hash {
	var out Hash
	d.h.Sum(out[:0])
	return out
}
