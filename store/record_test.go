package store

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"vigil/merkle"
)

// fuzzReader hands out fuzz input; zeros once it runs out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) bytes(n int) []byte {
	out := make([]byte, n)
	copy(out, r.b)
	r.b = r.b[min(n, len(r.b)):]
	return out
}

func (r *fuzzReader) byte() byte      { return r.bytes(1)[0] }
func (r *fuzzReader) u32() uint32     { return binary.LittleEndian.Uint32(r.bytes(4)) }
func (r *fuzzReader) u64() uint64     { return binary.LittleEndian.Uint64(r.bytes(8)) }
func (r *fuzzReader) str() string     { return string(r.bytes(int(r.byte() % 24))) }
func (r *fuzzReader) i64() int64      { return int64(r.u64()) }
func (r *fuzzReader) flag(i int) bool { return r.byte()>>i&1 == 1 }

// entryFrom builds a valid entry, with every field set from fuzz input, and
// maybe a node hash.
func entryFrom(data []byte) (*merkle.Entry, *merkle.Hash) {
	r := &fuzzReader{b: data}
	e := &merkle.Entry{
		Path:      "/fuzz",
		Type:      merkle.Type(r.byte() % (byte(merkle.TypeBlockDev) + 1)),
		Perm:      r.u32() & 0o7777,
		UID:       r.u32(),
		GID:       r.u32(),
		Size:      r.i64(),
		Mtime:     r.i64(),
		Ctime:     r.i64(),
		Inode:     r.u64(),
		Nlink:     r.u64(),
		Dev:       r.u64(),
		Rdev:      r.u64(),
		Target:    r.str(),
		Flags:     r.u32(),
		HasFlags:  r.flag(0),
		HashState: merkle.HashState(r.byte() % (byte(merkle.HashFailed) + 1)),
		HashedAt:  r.i64(),
		Attrs:     merkle.Attr(r.u32()) & merkle.AttrAll,
		Err:       r.str(),
	}
	copy(e.Hash[:], r.bytes(32))
	if e.Type != merkle.TypeCharDev && e.Type != merkle.TypeBlockDev {
		e.Rdev = 0 // only device nodes have one
	}
	if e.Type != merkle.TypeFile {
		e.HashState = merkle.HashNone // only files have content to hash
	}
	if r.flag(1) {
		e.Gen, e.HasGen = r.u64(), true
	}
	if r.flag(2) {
		e.Btime = r.i64()
	}
	for range int(r.byte() % 4) {
		e.Xattrs = append(e.Xattrs, merkle.Xattr{Name: r.str(), Value: []byte(r.str())})
	}
	var node *merkle.Hash
	if r.flag(0) {
		node = new(merkle.Hash)
		copy(node[:], r.bytes(32))
	}
	return e, node
}

// canonical returns e as a record keeps it: a content hash only when it is
// known.
func canonical(e *merkle.Entry) *merkle.Entry {
	c := *e
	if c.HashState != merkle.HashOK {
		c.Hash = [32]byte{}
	}
	return &c
}

var equateEmpty = cmpopts.EquateEmpty()

func FuzzRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{recordVersion, 0, 1, 1})
	f.Add(appendRecord(nil, &merkle.Entry{Type: merkle.TypeFile, Perm: 0o644, HashState: merkle.HashOK,
		Hash: [32]byte{1, 2, 3}, Attrs: merkle.AttrAll, Target: "x", Err: "e",
		Xattrs: []merkle.Xattr{{Name: "user.a", Value: []byte("v")}}}, nil))
	f.Add(appendRecord(nil, &merkle.Entry{Type: merkle.TypeDir, Mtime: -1, Size: 1 << 62}, &merkle.Hash{9}))
	f.Add([]byte("\x01\x10\x02\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary bytes: an error or an entry, never a panic; what
		// decodes re-encodes to the same entry.
		if e, node, err := decodeRecord("/any", data); err == nil {
			e2, node2, err := decodeRecord("/any", appendRecord(nil, e, &node))
			if err != nil {
				t.Fatalf("decodeRecord(appendRecord(decodeRecord(%x))) = %v", data, err)
			}
			if diff := cmp.Diff(e2, canonical(e), equateEmpty); diff != "" || node2 != node {
				t.Fatalf("re-encoding %x changed the entry (-got +want):\n%s\nnode %x, want %x", data, diff, node2, node)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeRecord(%x) = %v, want an error wrapping ErrCorrupt", data, err)
		}

		// Entries built from the input round-trip every field.
		e, node := entryFrom(data)
		prefix := []byte("key")
		rec := appendRecord(prefix, e, node)
		got, gotNode, err := decodeRecord(e.Path, rec[len(prefix):])
		if err != nil {
			t.Fatalf("decodeRecord(appendRecord(%+v)) = %v", e, err)
		}
		if diff := cmp.Diff(got, canonical(e), equateEmpty); diff != "" {
			t.Errorf("round trip (-got +want):\n%s", diff)
		}
		var wantNode merkle.Hash
		if node != nil {
			wantNode = *node
		}
		if gotNode != wantNode {
			t.Errorf("round trip: node hash %x, want %x", gotNode, wantNode)
		}
		// The decoded entry does not share memory with the record.
		for i := range rec {
			rec[i] = 0xee
		}
		if diff := cmp.Diff(got, canonical(e), equateEmpty); diff != "" {
			t.Errorf("decoded entry changed with the record's bytes (-got +want):\n%s", diff)
		}
		// Every strict prefix of a record is corrupt.
		rec = appendRecord(nil, e, node)
		for n := range len(rec) {
			if _, _, err := decodeRecord(e.Path, rec[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord of the first %d of %d bytes = %v, want ErrCorrupt", n, len(rec), err)
			}
		}
	})
}

func TestDecodeRecordCorrupt(t *testing.T) {
	valid := func() *merkle.Entry {
		return &merkle.Entry{Type: merkle.TypeFile, Perm: 0o644, HashState: merkle.HashOK, Attrs: merkle.AttrAll}
	}
	rec := func(mod func(*merkle.Entry)) []byte {
		e := valid()
		mod(e)
		return appendRecord(nil, e, nil)
	}
	// setByte changes byte i of a valid record.
	setByte := func(i int, v byte) []byte {
		b := appendRecord(nil, valid(), nil)
		b[i] = v
		return b
	}
	bigVarint := binary.AppendUvarint(nil, 1<<40)
	tests := []struct {
		name string
		rec  []byte
	}{
		{"empty", nil},
		{"version 0", setByte(0, 0)},
		{"version 2", setByte(0, 2)},
		{"unknown flag", setByte(1, recHash|recErr<<1)},
		{"type beyond block device", setByte(2, byte(merkle.TypeBlockDev)+1)},
		{"hash state beyond failed", setByte(3, byte(merkle.HashFailed)+1)},
		{"trailing byte", append(appendRecord(nil, valid(), nil), 0)},
		{"perm beyond 07777", rec(func(e *merkle.Entry) { e.Perm = 0o10000 })},
		{"attrs beyond all", rec(func(e *merkle.Entry) { e.Attrs = merkle.AttrAll + 1 })},
		{"uid beyond 32 bits", append([]byte{recordVersion, 0, 1, 1, 0, 0}, append(bigVarint, make([]byte, 10)...)...)},
		{"huge target length", append([]byte{recordVersion, recTarget, 1, 1}, append(make([]byte, 13), 0xff, 0xff, 0xff, 0xff, 0x0f)...)},
		{"huge xattr count", append([]byte{recordVersion, recXattrs, 1, 1}, append(make([]byte, 13), 0xff, 0xff, 0xff, 0xff, 0x0f)...)},
		{"overlong varint", append([]byte{recordVersion, 0, 1, 1}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, err := decodeRecord("/x", tt.rec)
			if !errors.Is(err, ErrCorrupt) || e != nil {
				t.Errorf("decodeRecord(%x) = %+v, %v; want nil, ErrCorrupt", tt.rec, e, err)
			}
		})
	}
	if _, _, err := decodeRecord("/x", appendRecord(nil, valid(), nil)); err != nil {
		t.Errorf("decodeRecord(valid record) = %v, want nil", err)
	}
}
