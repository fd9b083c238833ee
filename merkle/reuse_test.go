package merkle

import (
	"math/rand/v2"
	"testing"
)

// TestSameLeafAgreesWithLeafHash mutates one field at a time of random
// entries and checks that SameLeaf says "same" exactly when LeafHash (and
// LeafHashV1) are equal: it never vouches for a leaf whose hash differs.
func TestSameLeafAgreesWithLeafHash(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 3))
	mutations := []func(e *Entry){
		func(e *Entry) { e.Path += "x" },
		func(e *Entry) { e.Path = "/other/" + e.Name() }, // same name, other parent
		func(e *Entry) { e.Type = TypeSymlink },
		func(e *Entry) { e.Perm ^= 0o4000 },
		func(e *Entry) { e.UID++ },
		func(e *Entry) { e.GID++ },
		func(e *Entry) { e.Size++ },
		func(e *Entry) { e.Mtime++ },
		func(e *Entry) { e.Ctime++ },
		func(e *Entry) { e.Inode++ },
		func(e *Entry) { e.Nlink++ },
		func(e *Entry) { e.Dev++ },                  // recorded, not attested
		func(e *Entry) { e.Gen++; e.HasGen = true }, // recorded, not attested
		func(e *Entry) { e.Btime++ },                // recorded, not attested
		func(e *Entry) { e.HashedAt++ },             // not attested
		func(e *Entry) { e.Err = "lstat failed" },   // not attested
		func(e *Entry) { e.Rdev++ },
		func(e *Entry) { e.Target += "y" },
		func(e *Entry) { e.Xattrs = append(e.Xattrs, Xattr{Name: "user.a", Value: []byte{1}}) },
		func(e *Entry) { e.Flags ^= 0x10 },
		func(e *Entry) { e.HasFlags = !e.HasFlags },
		func(e *Entry) { e.Hash[7] ^= 1 },
		func(e *Entry) { e.HashState = HashSkipped },
		func(e *Entry) { e.Attrs ^= AttrMtime },
		func(e *Entry) { e.Attrs ^= AttrContent },
	}
	types := []Type{TypeFile, TypeSymlink, TypeCharDev, TypeBlockDev, TypeFIFO}
	for i := range 4000 {
		a := &Entry{
			Path: "/d/f" + string(rune('a'+r.IntN(3))), Type: types[r.IntN(len(types))],
			Perm: uint32(r.IntN(0o7777)), UID: r.Uint32() % 3, GID: r.Uint32() % 3,
			Size: r.Int64N(3), Mtime: r.Int64N(3), Ctime: r.Int64N(3), Inode: r.Uint64N(3), Nlink: 1,
			Rdev: r.Uint64N(2), Target: "t", Flags: r.Uint32N(2), HasFlags: r.IntN(2) == 0,
			HashState: HashOK, Hash: [32]byte{byte(r.IntN(2))}, Attrs: Attr(r.Uint32()) & AttrAll,
		}
		if r.IntN(2) == 0 {
			a.Xattrs = []Xattr{{Name: "security.ima", Value: []byte{byte(r.IntN(2))}}}
		}
		b := *a
		b.Xattrs = append([]Xattr(nil), a.Xattrs...)
		mutations[r.IntN(len(mutations))](&b)
		ha, _ := LeafHash(a, nil)
		hb, _ := LeafHash(&b, nil)
		h1a, _ := LeafHashV1(a, nil)
		h1b, _ := LeafHashV1(&b, nil)
		if got := SameLeaf(a, &b); got != (ha == hb) || (got && h1a != h1b) {
			t.Fatalf("case %d: SameLeaf(%+v, %+v) = %v, leaf hashes equal %v", i, a, &b, got, ha == hb)
		}
	}
}

// TestAddHashed checks that a tree built with the leaf hashes handed in has
// the root of one built by hashing, and that a Builder of another scheme
// ignores a hash handed in.
func TestAddHashed(t *testing.T) {
	entries := []*Entry{
		{Path: "/", Type: TypeDir, Attrs: AttrAll},
		{Path: "/a", Type: TypeFile, Size: 3, Attrs: AttrAll},
		{Path: "/b", Type: TypeDir, Attrs: AttrAll},
		{Path: "/b/c", Type: TypeSymlink, Target: "/a", Attrs: AttrAll},
	}
	build := func(b *Builder, hashed bool, bogus bool) Hash {
		t.Helper()
		for _, e := range entries {
			var err error
			if hashed {
				h, _ := LeafHash(e, nil)
				if bogus {
					h[0] ^= 1
				}
				err = b.AddHashed(e, h)
			} else {
				err = b.Add(e)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		root, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	want := build(NewBuilder(nil), false, false)
	if got := build(NewBuilder(nil), true, false); got != want {
		t.Errorf("AddHashed root %x, Add root %x", got, want)
	}
	if got := build(NewBuilder(nil), true, true); got == want {
		t.Error("a V2 builder did not use the hash handed in")
	}
	wantV1 := build(NewBuilderVersion(V1, nil), false, false)
	if got := build(NewBuilderVersion(V1, nil), true, true); got != wantV1 {
		t.Errorf("a V1 builder used a V2 hash handed in: root %x, want %x", got, wantV1)
	}
	wantP := build(NewPortableBuilder(PortableAttrs, nil), false, false)
	if got := build(NewPortableBuilder(PortableAttrs, nil), true, true); got != wantP {
		t.Errorf("a portable builder used a hash handed in: root %x, want %x", got, wantP)
	}
}
