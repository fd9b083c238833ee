package store

import (
	"encoding/binary"
	"fmt"

	"vigil/merkle"
)

// recordVersion is the first byte of every stored entry.
const recordVersion = 1

// Record flag bits.
const (
	recHasFlags = 1 << iota
	recHash
	recNode
	recTarget
	recXattrs
	recErr
	recGen   // the inode generation follows, as a varint
	recBtime // the birth time follows, as a varint
)

// appendRecord appends the stored form of e (without its path, which is the
// key) and, for a directory, its node hash.
func appendRecord(b []byte, e *merkle.Entry, node *merkle.Hash) []byte {
	var fl byte
	if e.HasFlags {
		fl |= recHasFlags
	}
	if e.HashState == merkle.HashOK {
		fl |= recHash
	}
	if node != nil {
		fl |= recNode
	}
	if e.Target != "" {
		fl |= recTarget
	}
	if len(e.Xattrs) > 0 {
		fl |= recXattrs
	}
	if e.Err != "" {
		fl |= recErr
	}
	if e.HasGen {
		fl |= recGen
	}
	if e.Btime != 0 {
		fl |= recBtime
	}
	b = append(b, recordVersion, fl, byte(e.Type), byte(e.HashState))
	for _, v := range [...]uint64{uint64(e.Attrs), uint64(e.Perm), uint64(e.UID), uint64(e.GID),
		uint64(e.Size), uint64(e.Mtime), uint64(e.Ctime), e.Inode, e.Nlink, e.Dev, e.Rdev,
		uint64(e.Flags), uint64(e.HashedAt)} {
		b = binary.AppendUvarint(b, v)
	}
	if fl&recHash != 0 {
		b = append(b, e.Hash[:]...)
	}
	if fl&recNode != 0 {
		b = append(b, node[:]...)
	}
	if fl&recTarget != 0 {
		b = appendString(b, e.Target)
	}
	if fl&recXattrs != 0 {
		b = binary.AppendUvarint(b, uint64(len(e.Xattrs)))
		for _, x := range e.Xattrs {
			b = appendString(b, x.Name)
			b = appendString(b, string(x.Value))
		}
	}
	if fl&recErr != 0 {
		b = appendString(b, e.Err)
	}
	if fl&recGen != 0 {
		b = binary.AppendUvarint(b, e.Gen)
	}
	if fl&recBtime != 0 {
		b = binary.AppendUvarint(b, uint64(e.Btime))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a record, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uvarints reads len(v) varints into v, as as many calls of uvarint
// would, the one-byte ones (most of a record's fields) without a call.
func (d *decoder) uvarints(v []uint64, what string) {
	if d.err != nil {
		clear(v)
		return
	}
	b := d.b
	for i := range v {
		if len(b) > 0 && b[0] < 0x80 {
			v[i], b = uint64(b[0]), b[1:]
			continue
		}
		x, n := binary.Uvarint(b)
		if n <= 0 {
			d.b = b
			d.fail(what)
			clear(v[i:])
			return
		}
		v[i], b = x, b[n:]
	}
	d.b = b
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string {
	return string(d.bytes(d.uvarint(what), what))
}

// decodeRecord decodes a stored entry for path, returning its node hash
// (zero unless it is a directory). The entry does not share memory with b.
func decodeRecord(path string, b []byte) (*merkle.Entry, merkle.Hash, error) {
	e := new(merkle.Entry)
	node, err := decodeInto(e, path, b)
	if err != nil {
		return nil, node, err
	}
	return e, node, nil
}

// decodeInto is decodeRecord into an entry the caller provides.
func decodeInto(e *merkle.Entry, path string, b []byte) (merkle.Hash, error) {
	d := decoder{b: b}
	var node merkle.Hash
	if v := d.byte("version"); d.err == nil && v != recordVersion {
		return node, fmt.Errorf("%w: record version %d", ErrCorrupt, v)
	}
	fl := d.byte("flags")
	*e = merkle.Entry{Path: path, Type: merkle.Type(d.byte("type")), HashState: merkle.HashState(d.byte("hash state"))}
	var v [13]uint64
	d.uvarints(v[:], "field")
	e.Attrs, e.Perm, e.UID, e.GID = merkle.Attr(v[0]), uint32(v[1]), uint32(v[2]), uint32(v[3])
	e.Size, e.Mtime, e.Ctime = int64(v[4]), int64(v[5]), int64(v[6])
	e.Inode, e.Nlink, e.Dev, e.Rdev = v[7], v[8], v[9], v[10]
	e.Flags, e.HashedAt, e.HasFlags = uint32(v[11]), int64(v[12]), fl&recHasFlags != 0
	if fl&recHash != 0 {
		copy(e.Hash[:], d.bytes(32, "hash"))
	}
	if fl&recNode != 0 {
		copy(node[:], d.bytes(32, "node hash"))
	}
	if fl&recTarget != 0 {
		e.Target = d.string("target")
	}
	if fl&recXattrs != 0 {
		n := d.uvarint("xattr count")
		if n > uint64(len(d.b)) {
			d.fail("xattr count")
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			name := d.string("xattr name")
			e.Xattrs = append(e.Xattrs, merkle.Xattr{Name: name, Value: []byte(d.string("xattr value"))})
		}
	}
	if fl&recErr != 0 {
		e.Err = d.string("error")
	}
	if fl&recGen != 0 {
		e.Gen, e.HasGen = d.uvarint("generation"), true
	}
	if fl&recBtime != 0 {
		e.Btime = int64(d.uvarint("birth time"))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err == nil && e.Rdev != 0 && e.Type != merkle.TypeCharDev && e.Type != merkle.TypeBlockDev {
		d.fail("device number of a " + e.Type.String())
	}
	if d.err == nil && e.HashState != merkle.HashNone && e.Type != merkle.TypeFile {
		d.fail("content hash state of a " + e.Type.String())
	}
	if d.err == nil && (e.Type > merkle.TypeBlockDev || e.HashState > merkle.HashFailed ||
		e.Attrs&^merkle.AttrAll != 0 || v[1] > 0o7777 || v[2] > 1<<32-1 || v[3] > 1<<32-1 || v[11] > 1<<32-1) {
		d.fail("field value")
	}
	return node, d.err
}

// SameRecord reports whether a and b would be stored as the same record:
// every field the store keeps is equal, attested or not (so that a stat
// cache that moved is written too).
func SameRecord(a, b *merkle.Entry) bool {
	if a.Path != b.Path || a.Type != b.Type || a.Perm != b.Perm || a.UID != b.UID || a.GID != b.GID ||
		a.Size != b.Size || a.Mtime != b.Mtime || a.Ctime != b.Ctime || a.Inode != b.Inode ||
		a.Nlink != b.Nlink || a.Dev != b.Dev || a.Rdev != b.Rdev || a.Target != b.Target ||
		a.Flags != b.Flags || a.HasFlags != b.HasFlags || a.HashState != b.HashState ||
		a.HashedAt != b.HashedAt || a.Attrs != b.Attrs || a.Err != b.Err || len(a.Xattrs) != len(b.Xattrs) ||
		a.HasGen != b.HasGen || a.Gen != b.Gen || a.Btime != b.Btime {
		return false
	}
	if a.HashState == merkle.HashOK && a.Hash != b.Hash {
		return false
	}
	for i := range a.Xattrs {
		if a.Xattrs[i].Name != b.Xattrs[i].Name || string(a.Xattrs[i].Value) != string(b.Xattrs[i].Value) {
			return false
		}
	}
	return true
}
