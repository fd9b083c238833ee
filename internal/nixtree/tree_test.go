package nixtree_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/nix"
	"vigil/internal/nixtree"
	"vigil/merkle"
)

func testSnapshot(n int) nix.Snapshot {
	s := nix.Snapshot{Paths: map[string]nix.Record{}}
	for i := range n {
		p := fmt.Sprintf("/nix/store/%032d-pkg%d", i, i)
		rec := nix.Record{Hash: fmt.Sprintf("sha256:%064x", i), NARSize: int64(100 + i), RegistrationTime: int64(1700000000 + i),
			Sigs: []string{"cache.example.org-1:c2ln"}, Stat: [32]byte{byte(i), 1}}
		if i > 0 {
			rec.Refs = []string{fmt.Sprintf("/nix/store/%032d-pkg%d", i-1, i-1)}
		}
		if i%3 == 0 {
			rec.Ultimate, rec.Sigs = true, nil
		}
		s.Paths[p] = rec
		if i%2 == 0 {
			s.Closure = append(s.Closure, p)
		}
	}
	// A closure path the database does not list.
	s.Closure = append(s.Closure, "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-gone")
	return s
}

func TestLeavesRoundTrip(t *testing.T) {
	s := testSnapshot(50)
	got, err := nixtree.SnapshotOf(nixtree.Leaves(s))
	if err != nil {
		t.Fatalf("SnapshotOf(Leaves(s)): %v", err)
	}
	if d := cmp.Diff(s, got); d != "" {
		t.Errorf("SnapshotOf(Leaves(s)) differs from s (-want +got):\n%s", d)
	}
}

func TestDecodeRecordRefusesNonCanonical(t *testing.T) {
	good := nixtree.EncodeRecord("/nix/store/abc-x", nix.Record{Hash: "sha256:00", NARSize: 5, Refs: []string{"/nix/store/abc-x"}}, true, false)
	if _, err := nixtree.DecodeRecord(good); err != nil {
		t.Fatalf("DecodeRecord(canonical) = %v", err)
	}
	for name, data := range map[string][]byte{
		"header":       bytes.Replace(good, []byte("v1"), []byte("v2"), 1),
		"leading zero": bytes.Replace(good, []byte("nar_size 5"), []byte("nar_size 05"), 1),
		"plus sign":    bytes.Replace(good, []byte("nar_size 5"), []byte("nar_size +5"), 1),
		"bool spelt":   bytes.Replace(good, []byte("valid true"), []byte("valid 1"), 1),
		"raw string":   bytes.Replace(good, []byte(`"sha256:00"`), []byte("`sha256:00`"), 1),
		"extra line":   append(bytes.Clone(good), "x 1\n"...),
		"no newline":   good[:len(good)-1],
		"missing stat": good[:bytes.Index(good, []byte("stat "))],
	} {
		if _, err := nixtree.DecodeRecord(data); err == nil {
			t.Errorf("DecodeRecord(%s) = nil error, want one", name)
		}
	}
}

// TestTreeRootIsMerkles checks that TreeRoot is the root merkle's builder
// gives the same entries, and that a change of any record changes it.
func TestTreeRootIsMerkles(t *testing.T) {
	leaves := nixtree.Leaves(testSnapshot(40))
	root, err := nixtree.TreeRoot(leaves)
	if err != nil {
		t.Fatal(err)
	}
	b := merkle.NewBuilder(nil)
	if err := b.Add(&merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType}); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if err := b.Add(nixtree.LeafEntry(l)); err != nil {
			t.Fatal(err)
		}
	}
	want, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if root != want {
		t.Fatalf("TreeRoot = %x, merkle.Builder = %x", root, want)
	}
	leaves[7].Data = bytes.Replace(leaves[7].Data, []byte("nar_size 1"), []byte("nar_size 9"), 1)
	if r2, _ := nixtree.TreeRoot(leaves); r2 == root {
		t.Errorf("TreeRoot after a record's nar_size changed = %x, the same root", r2)
	}
	leaves[3], leaves[4] = leaves[4], leaves[3]
	if _, err := nixtree.TreeRoot(leaves); !errors.Is(err, merkle.ErrUnsorted) {
		t.Errorf("TreeRoot(unsorted) = %v, want ErrUnsorted", err)
	}
}

func TestProveRecord(t *testing.T) {
	leaves := nixtree.Leaves(testSnapshot(100))
	root, err := nixtree.TreeRoot(leaves)
	if err != nil {
		t.Fatal(err)
	}
	p := leaves[37].Path
	pf, data, err := nixtree.ProveRecord(leaves, p)
	if err != nil {
		t.Fatalf("ProveRecord(%s): %v", p, err)
	}
	d, err := nixtree.VerifyRecord(pf, root, data)
	if err != nil {
		t.Fatalf("VerifyRecord(proof of %s): %v", p, err)
	}
	if d.Path != p || !d.Valid {
		t.Errorf("VerifyRecord: path %s valid %t, want %s true", d.Path, d.Valid, p)
	}
	// Another record with the same proof, or the proof against another
	// root, fails.
	if _, err := nixtree.VerifyRecord(pf, root, leaves[38].Data); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("VerifyRecord(proof of %s, record of %s) = %v, want ErrBadProof", p, leaves[38].Path, err)
	}
	edited := bytes.Replace(data, []byte("registration_time 1"), []byte("registration_time 2"), 1)
	if _, err := nixtree.VerifyRecord(pf, root, edited); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("VerifyRecord(edited record) = %v, want ErrBadProof", err)
	}
	other := root
	other[0] ^= 1
	if _, err := nixtree.VerifyRecord(pf, other, data); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("VerifyRecord(another root) = %v, want ErrBadProof", err)
	}
	if _, _, err := nixtree.ProveRecord(leaves, "/nix/store/nothere"); !errors.Is(err, nixtree.ErrNoRecord) {
		t.Errorf("ProveRecord(absent) = %v, want ErrNoRecord", err)
	}
}

func BenchmarkTreeRoot(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		leaves := nixtree.Leaves(testSnapshot(n))
		size := 0
		for _, l := range leaves {
			size += len(l.Path) + len(l.Data)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nixtree.TreeRoot(leaves); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/float64(n), "B/path")
		})
	}
}

func TestDiff(t *testing.T) {
	a := testSnapshot(10)
	b := testSnapshot(10)
	b.Paths = maps.Clone(b.Paths)
	p1, p2, p3 := "/nix/store/00000000000000000000000000000001-pkg1", "/nix/store/00000000000000000000000000000002-pkg2",
		"/nix/store/00000000000000000000000000000003-pkg3"
	r := b.Paths[p1]
	r.RegistrationTime++
	b.Paths[p1] = r
	delete(b.Paths, p2) // in the closure too: stays, not valid
	r = b.Paths[p3]
	r.Stat[5] = 1
	b.Paths[p3] = r
	b.Paths["/nix/store/11111111111111111111111111111111-new"] = nix.Record{Hash: "sha256:00"}
	got := nixtree.Diff(a, b)
	want := []nixtree.Change{
		{Path: p1, Action: nixtree.Changed, Detail: "registration time 1700000001 -> 1700000002"},
		{Path: p2, Action: nixtree.Changed, Detail: "valid true -> false"},
		{Path: p3, Action: nixtree.Changed, Detail: "stat digest changed (files touched, same NAR hash)"},
		{Path: "/nix/store/11111111111111111111111111111111-new", Action: nixtree.Added, Detail: "new in the Nix tree"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	if got := nixtree.Diff(a, a); len(got) != 0 {
		t.Errorf("Diff(a, a) = %v, want nothing", got)
	}
	if got := nixtree.Diff(a, nix.Snapshot{}); len(got) != 11 || got[0].Action != nixtree.Removed {
		t.Errorf("Diff(a, empty) = %v, want its 11 paths removed", got)
	}
}

// BenchmarkSealedRead compares what a check pays to read the sealed
// records: the snapshot file's JSON decoded (baselines before the tree)
// or the tree's records rehashed to their root and decoded.
func BenchmarkSealedRead(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		s := testSnapshot(n)
		raw, err := json.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		leaves := nixtree.Leaves(s)
		b.Run(fmt.Sprintf("json/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var got nix.Snapshot
				if err := json.Unmarshal(raw, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("tree/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nixtree.TreeRoot(leaves); err != nil {
					b.Fatal(err)
				}
				if _, err := nixtree.SnapshotOf(leaves); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("leaves/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				nixtree.Leaves(s)
			}
		})
	}
}

// TestLeavesClosureSet: the closure is a set: its order and repeats change
// neither the leaves nor the snapshot given.
func TestLeavesClosureSet(t *testing.T) {
	s := testSnapshot(6)
	want := nixtree.Leaves(s)
	messy := s
	messy.Closure = append([]string{s.Closure[2], s.Closure[0]}, s.Closure...)
	kept := slices.Clone(messy.Closure)
	if d := cmp.Diff(want, nixtree.Leaves(messy)); d != "" {
		t.Errorf("Leaves with the closure out of order and repeated (-want +got):\n%s", d)
	}
	if !slices.Equal(kept, messy.Closure) {
		t.Errorf("Leaves changed its snapshot's closure: %v, was %v", messy.Closure, kept)
	}
}
