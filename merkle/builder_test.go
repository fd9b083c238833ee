package merkle_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

// d and f make a directory and a file entry with attributes derived from the
// path, so that different paths hash differently.
func d(p string) *merkle.Entry {
	return &merkle.Entry{Path: p, Type: merkle.TypeDir, Perm: 0o755, Size: int64(len(p)), Attrs: merkle.AttrAll}
}

func f(p string) *merkle.Entry {
	return &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644, Size: int64(len(p)),
		HashState: merkle.HashOK, Hash: seq(byte(len(p))), Attrs: merkle.AttrAll}
}

func TestBuilderOrderErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []*merkle.Entry
		bad     int // index of the entry Add must refuse
		want    error
	}{
		{"duplicate file", []*merkle.Entry{d("/"), f("/a"), f("/a")}, 2, merkle.ErrUnsorted},
		{"duplicate dir", []*merkle.Entry{d("/"), d("/a"), d("/a")}, 2, merkle.ErrUnsorted},
		{"duplicate root", []*merkle.Entry{d("/"), d("/")}, 1, merkle.ErrUnsorted},
		{"siblings out of order", []*merkle.Entry{d("/"), f("/b"), f("/a")}, 2, merkle.ErrUnsorted},
		{"dash sibling before dir", []*merkle.Entry{d("/"), f("/a-b"), d("/a")}, 2, merkle.ErrUnsorted},
		{"nested siblings out of order", []*merkle.Entry{d("/"), d("/a"), f("/a/y"), f("/a/x")}, 3, merkle.ErrUnsorted},
		{"subtree after dash sibling", []*merkle.Entry{d("/"), d("/a"), f("/a-b"), f("/a/x")}, 3, merkle.ErrOrphan},
		{"missing parent", []*merkle.Entry{d("/"), f("/a/b")}, 1, merkle.ErrOrphan},
		{"child of a file", []*merkle.Entry{d("/"), f("/a"), f("/a/b")}, 2, merkle.ErrOrphan},
		{"second root", []*merkle.Entry{d("/x"), f("/x/a"), d("/y")}, 2, merkle.ErrOrphan},
		{"after a file root", []*merkle.Entry{f("/f"), f("/g")}, 1, merkle.ErrOrphan},
		{"parent after root", []*merkle.Entry{d("/x"), d("/")}, 1, merkle.ErrOrphan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := merkle.NewBuilder(nil)
			for i, e := range tt.entries {
				err := b.Add(e)
				if i < tt.bad {
					if err != nil {
						t.Fatalf("Add(%s) = %v, want nil", e.Path, err)
					}
					continue
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("Add(%s) = %v, want %v", e.Path, err, tt.want)
				}
				return
			}
		})
	}
}

func TestBuilderPostOrder(t *testing.T) {
	entries := []*merkle.Entry{
		d("/"), d("/a"), f("/a/x"), d("/a/y"), f("/a/y/z"), d("/a/yy"), f("/a-b"), d("/b"), f("/b/c"),
	}
	var got []string
	hashes := map[string]merkle.Hash{}
	b := merkle.NewBuilder(func(n merkle.Node) error {
		got = append(got, n.Entry.Path)
		hashes[n.Entry.Path] = n.Hash
		return nil
	})
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatalf("Add(%s): %v", e.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want := []string{"/a/x", "/a/y/z", "/a/y", "/a/yy", "/a", "/a-b", "/b/c", "/b", "/"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("emission order (-got +want):\n%s", diff)
	}
	if b.Count() != len(entries) {
		t.Errorf("Count() = %d, want %d", b.Count(), len(entries))
	}
	if root != hashes["/"] {
		t.Errorf("Finish() = %x, want the emitted root hash %x", root, hashes["/"])
	}

	// Each hash is recomputed from its definition.
	leaf := func(e *merkle.Entry) merkle.Hash { h, _ := merkle.LeafHash(e, nil); return h }
	dir := func(e *merkle.Entry, kids ...string) merkle.Hash {
		h := merkle.NewDirHasher(e)
		for _, k := range kids {
			h.Add(hashes[k])
		}
		return h.Sum()
	}
	wantHashes := map[string]merkle.Hash{
		"/a/x": leaf(entries[2]), "/a/y/z": leaf(entries[4]), "/a-b": leaf(entries[6]), "/b/c": leaf(entries[8]),
		"/a/y": dir(entries[3], "/a/y/z"), "/a/yy": dir(entries[5]),
		"/a": dir(entries[1], "/a/x", "/a/y", "/a/yy"), "/b": dir(entries[7], "/b/c"),
		"/": dir(entries[0], "/a", "/a-b", "/b"),
	}
	if diff := cmp.Diff(hashes, wantHashes); diff != "" {
		t.Errorf("node hashes (-got +want):\n%s", diff)
	}
}

func TestBuilderSingleFile(t *testing.T) {
	e := f("/etc/passwd")
	var got []merkle.Node
	b := merkle.NewBuilder(func(n merkle.Node) error { got = append(got, n); return nil })
	if err := b.Add(e); err != nil {
		t.Fatalf("Add: %v", err)
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want, _ := merkle.LeafHash(e, nil)
	if root != want {
		t.Errorf("root = %x, want LeafHash %x", root, want)
	}
	if len(got) != 1 || got[0].Entry != e || got[0].Hash != want {
		t.Errorf("emitted %+v, want one node for %s with hash %x", got, e.Path, want)
	}
}

func TestBuilderEmpty(t *testing.T) {
	calls := 0
	b := merkle.NewBuilder(func(merkle.Node) error { calls++; return nil })
	root, err := b.Finish()
	if err != nil || root != (merkle.Hash{}) {
		t.Errorf("Finish() = %x, %v; want zero hash, nil", root, err)
	}
	if calls != 0 || b.Count() != 0 {
		t.Errorf("emitted %d nodes, Count %d; want 0, 0", calls, b.Count())
	}
	// A nil emit function is allowed.
	if _, err := merkle.NewBuilder(nil).Finish(); err != nil {
		t.Errorf("NewBuilder(nil).Finish() = %v, want nil", err)
	}
}

func TestBuilderEmptyDirRoot(t *testing.T) {
	e := d("/")
	b := merkle.NewBuilder(nil)
	if err := b.Add(e); err != nil {
		t.Fatalf("Add: %v", err)
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if want := merkle.NewDirHasher(e).Sum(); root != want {
		t.Errorf("root = %x, want %x", root, want)
	}
	if err := b.Add(f("/a")); !errors.Is(err, merkle.ErrOrphan) {
		t.Errorf("Add after Finish = %v, want %v", err, merkle.ErrOrphan)
	}
}

func TestBuilderEmitError(t *testing.T) {
	boom := errors.New("boom")
	b := merkle.NewBuilder(func(n merkle.Node) error {
		if n.Entry.Path == "/a" {
			return boom
		}
		return nil
	})
	for _, e := range []*merkle.Entry{d("/"), d("/a"), f("/a/x")} {
		if err := b.Add(e); err != nil {
			t.Fatalf("Add(%s) = %v, want nil", e.Path, err)
		}
	}
	if err := b.Add(f("/b")); !errors.Is(err, boom) {
		t.Errorf("Add(/b), closing /a = %v, want %v", err, boom)
	}
	b = merkle.NewBuilder(func(merkle.Node) error { return boom })
	if err := b.Add(f("/x")); !errors.Is(err, boom) {
		t.Errorf("Add(/x) with failing emit = %v, want %v", err, boom)
	}
	b = merkle.NewBuilder(func(merkle.Node) error { return boom })
	if err := b.Add(d("/")); err != nil {
		t.Fatalf("Add(/) = %v, want nil (nothing emitted yet)", err)
	}
	if _, err := b.Finish(); !errors.Is(err, boom) {
		t.Errorf("Finish with failing emit = %v, want %v", err, boom)
	}
}

// TestBuilderReusesHashers checks that the hashers a Builder recycles start
// over, and that building twice gives the same hashes.
func TestBuilderReusesHashers(t *testing.T) {
	entries := []*merkle.Entry{d("/"), d("/a"), d("/a/b"), d("/a/b/c"), f("/a/b/c/x"), d("/b"), f("/b/x"), d("/c"), d("/d")}
	build := func() map[string]merkle.Hash {
		m := map[string]merkle.Hash{}
		b := merkle.NewBuilder(func(n merkle.Node) error { m[n.Entry.Path] = n.Hash; return nil })
		for _, e := range entries {
			if err := b.Add(e); err != nil {
				t.Fatalf("Add(%s): %v", e.Path, err)
			}
		}
		if _, err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := build()
	// /c and /d are empty directories closed with hashers recycled from
	// deeper ones: each must hash as if fresh.
	for _, e := range entries[7:] {
		if fresh := merkle.NewDirHasher(e).Sum(); want[e.Path] != fresh {
			t.Errorf("%s (built with a recycled hasher) = %x, want %x", e.Path, want[e.Path], fresh)
		}
	}
	if diff := cmp.Diff(build(), want); diff != "" {
		t.Errorf("second build differs (-got +want):\n%s", diff)
	}
}
