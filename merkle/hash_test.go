package merkle_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"vigil/merkle"
)

func baseFile() *merkle.Entry {
	return &merkle.Entry{
		Path: "/etc/passwd", Type: merkle.TypeFile, Perm: 0o644, UID: 0, GID: 0, Size: 1234,
		Mtime: t0, Ctime: t0 + 1, Inode: 131, Nlink: 1, Dev: 2049, Hash: seq(1), HashState: merkle.HashOK,
		HashedAt: t0 + 2, Xattrs: []merkle.Xattr{{Name: "user.a", Value: []byte("x")}},
		HasFlags: true, Flags: 0x80000, Attrs: merkle.AttrAll,
	}
}

func baseDev() *merkle.Entry {
	return &merkle.Entry{Path: "/dev/null", Type: merkle.TypeCharDev, Perm: 0o666, Inode: 5, Nlink: 1,
		Dev: 5, Rdev: 0x103, Attrs: merkle.AttrAll}
}

func baseSkipped() *merkle.Entry {
	e := baseFile()
	e.HashState, e.Hash = merkle.HashSkipped, [32]byte{}
	return e
}

func noXattrs() *merkle.Entry {
	e := baseFile()
	e.Xattrs = nil
	return e
}

func nilXattrValue() *merkle.Entry {
	e := baseFile()
	e.Xattrs = []merkle.Xattr{{Name: "user.a"}}
	return e
}

// mutations each change one field of an entry; want is the attribute
// Compare must report, 0 for fields that are recorded but not attested.
var mutations = []struct {
	name   string
	base   func() *merkle.Entry
	mutate func(*merkle.Entry)
	want   merkle.Attr
}{
	{"content hash", baseFile, func(e *merkle.Entry) { e.Hash[31] ^= 1 }, merkle.AttrContent},
	{"hash state", baseFile, func(e *merkle.Entry) { e.HashState = merkle.HashUnstable }, merkle.AttrContent},
	{"skipped to failed", baseSkipped, func(e *merkle.Entry) { e.HashState = merkle.HashFailed }, merkle.AttrContent},
	{"device number", baseDev, func(e *merkle.Entry) { e.Rdev++ }, merkle.AttrContent},
	{"device type", baseDev, func(e *merkle.Entry) { e.Type = merkle.TypeBlockDev }, merkle.AttrType | merkle.AttrContent},
	{"file to symlink", baseFile, func(e *merkle.Entry) { e.Type = merkle.TypeSymlink }, merkle.AttrType | merkle.AttrContent},
	{"perm", baseFile, func(e *merkle.Entry) { e.Perm = 0o4644 }, merkle.AttrMode},
	{"uid", baseFile, func(e *merkle.Entry) { e.UID = 1000 }, merkle.AttrUID},
	{"gid", baseFile, func(e *merkle.Entry) { e.GID = 1000 }, merkle.AttrGID},
	{"size", baseFile, func(e *merkle.Entry) { e.Size++ }, merkle.AttrSize},
	{"mtime", baseFile, func(e *merkle.Entry) { e.Mtime++ }, merkle.AttrMtime},
	{"ctime", baseFile, func(e *merkle.Entry) { e.Ctime++ }, merkle.AttrCtime},
	{"inode", baseFile, func(e *merkle.Entry) { e.Inode++ }, merkle.AttrInode},
	{"nlink", baseFile, func(e *merkle.Entry) { e.Nlink++ }, merkle.AttrNlink},
	{"xattr value", baseFile, func(e *merkle.Entry) { e.Xattrs = []merkle.Xattr{{Name: "user.a", Value: []byte("y")}} }, merkle.AttrXattrs},
	{"xattr name", baseFile, func(e *merkle.Entry) { e.Xattrs = []merkle.Xattr{{Name: "user.b", Value: []byte("x")}} }, merkle.AttrXattrs},
	{"xattr added", baseFile, func(e *merkle.Entry) {
		e.Xattrs = append(e.Xattrs, merkle.Xattr{Name: "user.c"})
	}, merkle.AttrXattrs},
	{"xattrs removed", baseFile, func(e *merkle.Entry) { e.Xattrs = nil }, merkle.AttrXattrs},
	{"xattr split differently", baseFile, func(e *merkle.Entry) {
		e.Xattrs = []merkle.Xattr{{Name: "user.ax", Value: nil}}
	}, merkle.AttrXattrs},
	{"target", baseFile, func(e *merkle.Entry) { e.Target = "x" }, merkle.AttrTarget},
	{"flags", baseFile, func(e *merkle.Entry) { e.Flags |= 0x10 }, merkle.AttrFlags},
	{"has flags", baseFile, func(e *merkle.Entry) { e.HasFlags = false }, merkle.AttrFlags},
	// Recorded, not attested.
	{"dev", baseFile, func(e *merkle.Entry) { e.Dev++ }, 0},
	{"hashed at", baseFile, func(e *merkle.Entry) { e.HashedAt++ }, 0},
	{"err", baseFile, func(e *merkle.Entry) { e.Err = "lstat: EIO" }, 0},
	{"parent directory", baseFile, func(e *merkle.Entry) { e.Path = "/usr/x/" + e.Name() }, 0},
	{"rdev of a file", baseFile, func(e *merkle.Entry) { e.Rdev = 7 }, 0},
	{"hash of a skipped file", baseSkipped, func(e *merkle.Entry) { e.Hash[0] = 1 }, 0},
	{"xattrs nil vs empty", noXattrs, func(e *merkle.Entry) { e.Xattrs = []merkle.Xattr{} }, 0},
	{"xattr value nil vs empty", nilXattrValue, func(e *merkle.Entry) { e.Xattrs[0].Value = []byte{} }, 0},
}

// TestLeafHashAttested checks that a leaf hash changes exactly when Compare
// reports a difference: every attested field changes it, Dev, HashedAt and
// Err do not, nor does any field the entry's Attrs do not monitor.
func TestLeafHashAttested(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			old, cur := m.base(), m.base()
			m.mutate(cur)
			if got := merkle.Compare(old, cur); got != m.want {
				t.Errorf("Compare = %v, want %v", got, m.want)
			}
			h0, _ := merkle.LeafHash(old, nil)
			h1, _ := merkle.LeafHash(cur, nil)
			if changed := h0 != h1; changed != (m.want != 0) {
				t.Errorf("LeafHash changed = %v, want %v", changed, m.want != 0)
			}

			// The same change with the attribute not monitored: only the
			// type, which is always monitored, still counts.
			mask := merkle.AttrAll &^ m.want
			old, cur = m.base(), m.base()
			old.Attrs, cur.Attrs = mask, mask
			m.mutate(cur)
			want := m.want & merkle.AttrType
			if got := merkle.Compare(old, cur); got != want {
				t.Errorf("with Attrs %v: Compare = %v, want %v", mask, got, want)
			}
			h0, _ = merkle.LeafHash(old, nil)
			h1, _ = merkle.LeafHash(cur, nil)
			if changed := h0 != h1; changed != (want != 0) {
				t.Errorf("with Attrs %v: LeafHash changed = %v, want %v", mask, changed, want != 0)
			}
		})
	}
}

// TestLeafHashName checks that a v2 leaf hash is bound to its name, so that a
// proof shows which child of a directory it is.
func TestLeafHashName(t *testing.T) {
	a, b := baseFile(), baseFile()
	b.Path = merkle.Join(merkle.Parent(a.Path), a.Name()+"x")
	ha, _ := merkle.LeafHash(a, nil)
	hb, _ := merkle.LeafHash(b, nil)
	if ha == hb {
		t.Errorf("LeafHash of %s = LeafHash of %s = %x, want different", a.Path, b.Path, ha)
	}
	if v1a, _ := merkle.LeafHashV1(a, nil); v1a == ha {
		t.Errorf("LeafHashV1 = LeafHash = %x, want different schemes", ha)
	}
}

// TestLeafHashMask checks that the monitored set itself is attested: the
// same values monitored under another rule hash differently.
func TestLeafHashMask(t *testing.T) {
	a, b := baseFile(), baseFile()
	b.Attrs = merkle.AttrAll &^ merkle.AttrMtime
	ha, _ := merkle.LeafHash(a, nil)
	hb, _ := merkle.LeafHash(b, nil)
	if ha == hb {
		t.Errorf("LeafHash with Attrs %v = LeafHash with Attrs %v = %x, want different", a.Attrs, b.Attrs, ha)
	}
	// AttrType is always monitored, so leaving it out changes nothing.
	c := baseFile()
	c.Attrs = merkle.AttrAll &^ merkle.AttrType
	if hc, _ := merkle.LeafHash(c, nil); hc != ha {
		t.Errorf("LeafHash with Attrs %v = %x, want %x (as with all)", c.Attrs, hc, ha)
	}
}

// TestLeafHashBuffer checks that the scratch buffer does not leak between
// calls.
func TestLeafHashBuffer(t *testing.T) {
	want, _ := merkle.LeafHash(baseDev(), nil)
	_, buf := merkle.LeafHash(baseFile(), nil)
	got, _ := merkle.LeafHash(baseDev(), buf)
	if got != want {
		t.Errorf("LeafHash with a used buffer = %x, want %x", got, want)
	}
}

func TestDirHasher(t *testing.T) {
	dir := func() *merkle.Entry {
		return &merkle.Entry{Path: "/etc", Type: merkle.TypeDir, Perm: 0o755, Inode: 2, Nlink: 3, Attrs: merkle.AttrAll}
	}
	sum := func(e *merkle.Entry, kids ...byte) merkle.Hash {
		d := merkle.NewDirHasher(e)
		for _, k := range kids {
			d.Add(seq(k))
		}
		return d.Sum()
	}
	base := sum(dir(), 1, 2)
	moved := dir()
	moved.Dev = 99
	moved.Path = "/other/etc"
	if got := sum(moved, 1, 2); got != base {
		t.Errorf("dir hash after changing Dev and the parent = %x, want unchanged %x", got, base)
	}
	perm := dir()
	perm.Perm = 0o700
	renamed := dir()
	renamed.Path = "/etc2"
	tests := []struct {
		name string
		got  merkle.Hash
	}{
		{"own attribute", sum(perm, 1, 2)},
		{"own name", sum(renamed, 1, 2)},
		{"child changed", sum(dir(), 1, 3)},
		{"child added", sum(dir(), 1, 2, 3)},
		{"child removed", sum(dir(), 1)},
		{"children reordered", sum(dir(), 2, 1)},
		{"no children", sum(dir())},
	}
	for _, tt := range tests {
		if tt.got == base {
			t.Errorf("%s: dir hash = %x, want different from %x", tt.name, tt.got, base)
		}
	}
	// Domain separation: an empty directory does not hash like a leaf.
	leaf, _ := merkle.LeafHash(dir(), nil)
	if empty := sum(dir()); empty == leaf {
		t.Errorf("empty dir hash = LeafHash of the same entry = %x, want different", leaf)
	}
	// The streaming hash is DirHash over ChildRoot.
	if want := merkle.DirHash(dir(), 2, merkle.ChildRoot([]merkle.Hash{seq(1), seq(2)})); base != want {
		t.Errorf("DirHasher = %x, want DirHash(ChildRoot) %x", base, want)
	}
	// Reset reuses the hasher.
	d := merkle.NewDirHasher(perm)
	d.Add(seq(3))
	d.Reset(dir())
	d.Add(seq(1))
	d.Add(seq(2))
	if got := d.Sum(); got != base {
		t.Errorf("Sum after Reset = %x, want %x", got, base)
	}
}

// TestAppendAttestedLayout spells out the documented v1 encoding of a fully
// monitored file byte by byte.
func TestAppendAttestedLayout(t *testing.T) {
	e := baseFile()
	e.Target = "t"
	le32 := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	le64 := func(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
	var want []byte
	want = le32(want, uint32(merkle.AttrAll))
	want = append(want, byte(merkle.TypeFile), byte(merkle.HashOK))
	want = append(want, e.Hash[:]...)
	want = le32(want, 0o644)                  // perm
	want = le32(want, 0)                      // uid
	want = le32(want, 0)                      // gid
	want = le64(want, 1234)                   // size
	want = le64(want, uint64(t0))             // mtime
	want = le64(want, uint64(t0+1))           // ctime
	want = le64(want, 131)                    // inode
	want = le64(want, 1)                      // nlink
	want = le32(want, 1)                      // xattr count
	want = append(le32(want, 6), "user.a"...) // name
	want = append(le32(want, 1), 'x')         // value
	want = append(le32(want, 1), 't')         // target
	want = le32(append(want, 1), 0x80000)     // has flags, flags
	got := merkle.AppendAttested([]byte("prefix"), e)
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Errorf("AppendAttested =\n%x\nwant\n%x", got, append([]byte("prefix"), want...))
	}
	// Only the monitored attributes are encoded.
	e.Attrs = merkle.AttrMode
	want = le32(nil, uint32(merkle.AttrMode|merkle.AttrType))
	want = le32(append(want, byte(merkle.TypeFile)), 0o644)
	if got := merkle.AppendAttested(nil, e); !bytes.Equal(got, want) {
		t.Errorf("AppendAttested with Attrs mode = %x, want %x", got, want)
	}
}
