package merkle

import "github.com/zeebo/blake3"

// The v1 scheme, kept to verify databases written before v2 so that they
// can be migrated without trusting them.
const (
	leafTagV1 = "vigil-leaf-v1\x00"
	dirTagV1  = "vigil-dir-v1\x00"
)

// LeafHashV1 is [LeafHash] under [V1]: the attested attributes without the
// name.
func LeafHashV1(e *Entry, buf []byte) (Hash, []byte) {
	buf = append(buf[:0], leafTagV1...)
	buf = AppendAttested(buf, e)
	return blake3.Sum256(buf), buf
}

// DirHasherV1 is [DirHasher] under [V1]: one stream over the directory's
// attributes and every (name, child hash) pair.
type DirHasherV1 struct {
	h   *blake3.Hasher
	buf []byte
}

// NewDirHasherV1 returns a v1 hasher for directory e.
func NewDirHasherV1(e *Entry) *DirHasherV1 {
	d := &DirHasherV1{h: blake3.New()}
	d.Reset(e)
	return d
}

// Reset starts over for directory e.
func (d *DirHasherV1) Reset(e *Entry) {
	d.h.Reset()
	d.buf = append(d.buf[:0], dirTagV1...)
	d.buf = AppendAttested(d.buf, e)
	d.h.Write(d.buf)
}

// Add adds a child by name and node hash.
func (d *DirHasherV1) Add(name string, h Hash) {
	d.buf = appendBytes(d.buf[:0], name)
	d.buf = append(d.buf, h[:]...)
	d.h.Write(d.buf)
}

// Sum returns the directory's node hash.
func (d *DirHasherV1) Sum() Hash {
	var out Hash
	d.h.Sum(out[:0])
	return out
}
