package merkle_test

import (
	"testing"

	"vigil/merkle"
)

func roots(t *testing.T, es []*merkle.Entry) (attested, portable merkle.Hash) {
	t.Helper()
	a, p := merkle.NewBuilder(nil), merkle.NewPortableBuilder(merkle.PortableAttrs, nil)
	for _, e := range es {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
		if err := p.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if attested, err = a.Finish(); err != nil {
		t.Fatal(err)
	}
	if portable, err = p.Finish(); err != nil {
		t.Fatal(err)
	}
	return attested, portable
}

func tree() []*merkle.Entry {
	es := []*merkle.Entry{d("/"), d("/etc"), f("/etc/hosts"), f("/etc/passwd"), d("/usr"), f("/usr/ls")}
	for i, e := range es {
		e.Inode, e.Nlink, e.Ctime, e.Mtime, e.Dev = uint64(100+i), 1, 1_700_000_000_000_000_000, 1_600_000_000_000_000_000, 7
	}
	return es
}

// TestPortableRoot: a copy of a tree on another host (other inodes, link
// counts, ctimes, mtimes, device) has the same portable root and another
// attested root; any change a copy would keep moves the portable root.
func TestPortableRoot(t *testing.T) {
	a0, p0 := roots(t, tree())
	copyOf := tree()
	for i, e := range copyOf {
		e.Inode, e.Nlink, e.Ctime, e.Mtime, e.Dev = uint64(9000+i), 2, 1_800_000_000_000_000_000, 1_650_000_000_000_000_000, 9
		// Another filesystem: directory sizes of its own, the extents
		// flag (ext4) where the original's had none.
		if e.Type == merkle.TypeDir {
			e.Size = 4096
		} else {
			e.HasFlags, e.Flags = true, 0x80000
		}
	}
	a1, p1 := roots(t, copyOf)
	if p1 != p0 {
		t.Errorf("a copy's portable root %x, want the original's %x", p1, p0)
	}
	if a1 == a0 {
		t.Errorf("a copy's attested root equals the original's: inodes and times are attested")
	}
	for name, change := range map[string]func(es []*merkle.Entry){
		"one byte": func(es []*merkle.Entry) { es[2].Hash[0] ^= 1 },
		"mode":     func(es []*merkle.Entry) { es[3].Perm = 0o666 },
		"owner":    func(es []*merkle.Entry) { es[5].UID = 1000 },
		"dir mode": func(es []*merkle.Entry) { es[1].Perm = 0o777 },
		"flags":    func(es []*merkle.Entry) { es[5].HasFlags, es[5].Flags = true, 0x10 },
		"xattr": func(es []*merkle.Entry) {
			es[5].Xattrs = []merkle.Xattr{{Name: "security.capability", Value: []byte{1}}}
		},
		"renamed file": func(es []*merkle.Entry) { es[2].Path = "/etc/hostz" },
	} {
		es := tree()
		change(es)
		if _, p := roots(t, es); p == p0 {
			t.Errorf("%s: the portable root did not move", name)
		}
	}
	// An added file moves it too.
	es := append(tree()[:4:4], f("/etc/shadow"), d("/usr"), f("/usr/ls"))
	if _, p := roots(t, es); p == p0 {
		t.Error("an added file: the portable root did not move")
	}
	// Where a profile keeps mtimes, they count.
	withMtime := func(es []*merkle.Entry) merkle.Hash {
		b := merkle.NewPortableBuilder(merkle.PortableAttrs|merkle.AttrMtime, nil)
		for _, e := range es {
			if err := b.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		h, _ := b.Finish()
		return h
	}
	if withMtime(tree()) == withMtime(copyOf) {
		t.Error("keeping mtimes: a copy with other mtimes has the same portable root")
	}
}
