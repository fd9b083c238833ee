package merkle_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"vigil/merkle"
)

// mth is RFC 6962's Merkle tree hash, written from its recursive
// definition, with ChildRoot's interior hash taken from two-leaf trees.
func mth(t *testing.T, leaves []merkle.Hash) merkle.Hash {
	t.Helper()
	switch len(leaves) {
	case 0:
		return merkle.Hash{}
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return merkle.ChildRoot([]merkle.Hash{mth(t, leaves[:k]), mth(t, leaves[k:])})
}

func TestChildRootShape(t *testing.T) {
	var leaves []merkle.Hash
	for n := range 70 {
		if got, want := merkle.ChildRoot(leaves), mth(t, leaves); got != want {
			t.Errorf("ChildRoot of %d leaves = %x, want RFC 6962 shape %x", n, got, want)
		}
		leaves = append(leaves, seq(byte(n)))
	}
	if merkle.ChildRoot(leaves[:1]) != leaves[0] {
		t.Errorf("ChildRoot of one leaf = %x, want the leaf %x", merkle.ChildRoot(leaves[:1]), leaves[0])
	}
	two := merkle.ChildRoot(leaves[:2])
	if two == leaves[0] || two == leaves[1] || two == (merkle.Hash{}) {
		t.Errorf("ChildRoot of two leaves = %x, want a new hash", two)
	}
}

// proofOf builds the proof of path from a memTree.
func proofOf(t testing.TB, m *memTree, path string) *merkle.Proof {
	t.Helper()
	n := m.nodes[path]
	p := &merkle.Proof{Entry: n.Entry}
	if n.Entry.Type == merkle.TypeDir {
		var kids []merkle.Hash
		for _, k := range m.kids[path] {
			kids = append(kids, k.Hash)
		}
		p.Count, p.Children = uint64(len(kids)), merkle.ChildRoot(kids)
	}
	for child := path; child != "/"; child = merkle.Parent(child) {
		dir := merkle.Parent(child)
		var kids []merkle.Hash
		idx := -1
		for i, k := range m.kids[dir] {
			kids = append(kids, k.Hash)
			if k.Entry.Path == child {
				idx = i
			}
		}
		if idx < 0 {
			t.Fatalf("%s is not a child of %s", child, dir)
		}
		p.Steps = append(p.Steps, merkle.NewStep(m.nodes[dir].Entry, kids, idx))
	}
	return p
}

// FuzzProof checks that the proof of every entry of a random tree leads to
// its root, and that a proof of an entry with any attribute changed, or with
// a wrong index, does not.
func FuzzProof(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 1, 3, 2, 2, 4, 0, 3, 7, 1, 1, 2})
	f.Add([]byte{3, 2, 0, 9, 4, 1, 3, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzReader{b: in}
		entries := map[string]*merkle.Entry{"/": fuzzEntry("/", merkle.TypeDir, r.next())}
		genDir(r, entries, "/", 1)
		m := newMemTree(t, entries)
		root := m.nodes["/"].Hash
		for _, p := range sortedPaths(entries) {
			pr := proofOf(t, m, p)
			if err := pr.Verify(root); err != nil {
				t.Fatalf("proof of %s: %v", p, err)
			}
			forged := *pr
			e := *pr.Entry
			e.Perm ^= 0o4000
			forged.Entry = &e
			if err := forged.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
				t.Errorf("proof of %s with its mode changed: Verify = %v, want ErrBadProof", p, err)
			}
			for i, s := range pr.Steps {
				if s.Count < 2 {
					continue
				}
				bad := *pr
				bad.Steps = append([]merkle.Step(nil), pr.Steps...)
				bad.Steps[i].Index = (s.Index + 1) % s.Count
				if err := bad.Verify(root); err == nil {
					t.Errorf("proof of %s with step %d's index %d -> %d verified", p, i, s.Index, bad.Steps[i].Index)
				}
			}
		}
	})
}

func TestProofMalformed(t *testing.T) {
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/x": f("/a/x"), "/b": f("/b")}
	m := newMemTree(t, entries)
	root := m.nodes["/"].Hash
	pr := proofOf(t, m, "/a/x")
	if len(pr.Steps) != 2 {
		t.Fatalf("proof of /a/x has %d steps, want 2", len(pr.Steps))
	}
	skipped := *pr
	skipped.Steps = pr.Steps[1:]
	if err := skipped.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("proof with a step left out: Verify = %v, want ErrBadProof", err)
	}
	out := *pr
	out.Steps = append([]merkle.Step(nil), pr.Steps...)
	out.Steps[0].Index = out.Steps[0].Count
	if err := out.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("proof with an index past the count: Verify = %v, want ErrBadProof", err)
	}
	if got, err := proofOf(t, m, "/").Root(); err != nil || got != root {
		t.Errorf("proof of the root = %x, %v; want %x", got, err, root)
	}
}

// TestProofJSON: a proof survives JSON exactly, odd names and all, and
// still verifies; an edited one does not.
func TestProofJSON(t *testing.T) {
	x := f("/a/\xffodd")
	x.Xattrs = []merkle.Xattr{{Name: "security.capability", Value: []byte{1, 2, 0}}}
	x.Target = "t\xfe"
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/\xffodd": x, "/a/y": f("/a/y"), "/b": f("/b")}
	m := newMemTree(t, entries)
	root := m.nodes["/"].Hash
	for _, p := range []string{"/a/\xffodd", "/a", "/"} {
		raw, err := json.Marshal(proofOf(t, m, p))
		if err != nil {
			t.Fatalf("Marshal proof of %q: %v", p, err)
		}
		var back merkle.Proof
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("Unmarshal proof of %q: %v\n%s", p, err, raw)
		}
		if err := back.Verify(root); err != nil {
			t.Errorf("proof of %q after JSON: %v\n%s", p, err, raw)
		}
		edited := strings.Replace(string(raw), `"uid":0`, `"uid":1`, 1)
		if edited == string(raw) {
			t.Fatalf("proof of %q: no uid to edit in %s", p, raw)
		}
		if err := json.Unmarshal([]byte(edited), &back); err == nil && back.Verify(root) == nil {
			t.Errorf("proof of %q with its uid edited still verifies", p)
		}
	}
}
