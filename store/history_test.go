package store

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

// model is one baseline as the test expects it back: entries by path.
type model map[string]*merkle.Entry

func (m model) sorted() []*merkle.Entry {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *merkle.Entry) int { return merkle.ComparePaths(a.Path, b.Path) })
	return out
}

// nodes builds m's tree, returning every node by path and the root.
func (m model) nodes(t testing.TB) (map[string]merkle.Node, merkle.Hash) {
	t.Helper()
	out := map[string]merkle.Node{}
	b := merkle.NewBuilder(func(n merkle.Node) error { out[n.Entry.Path] = n; return nil })
	for _, e := range m.sorted() {
		if err := b.Add(e); err != nil {
			t.Fatalf("Builder.Add(%s): %v", e.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out, root
}

// mutate returns a copy of m with n random edits: content, mode, new files
// and directories, deleted files and subtrees, stat-cache-only changes.
func (m model) mutate(r *rand.Rand, n int, serial *int) model {
	out := model{}
	for p, e := range m {
		c := *e
		out[p] = &c
	}
	for range n {
		paths := slices.SortedFunc(maps.Keys(out), merkle.ComparePaths)
		p := paths[r.IntN(len(paths))]
		e := out[p]
		*serial++
		switch r.IntN(6) {
		case 0:
			if e.Type == merkle.TypeFile {
				e.Hash[0]++
			}
		case 1:
			e.Perm ^= 0o4000
		case 2: // stat cache only: not attested
			e.HashedAt++
		case 3, 4:
			dir := p
			if e.Type != merkle.TypeDir {
				dir = merkle.Parent(p)
			}
			np := merkle.Join(dir, fmt.Sprintf("n%d", *serial))
			if r.IntN(3) == 0 {
				out[np] = dirEntry(np)
				out[np+"/x"] = fileEntry(np+"/x", *serial)
			} else {
				out[np] = fileEntry(np, *serial)
			}
		case 5:
			if p != "/" {
				for q := range out {
					if merkle.Within(q, p) {
						delete(out, q)
					}
				}
			}
		}
	}
	return out
}

// writeModel writes m as a new baseline: whole, or as a delta over parent
// (whose model is old).
func writeModel(t testing.TB, db *DB, m, old model, parent *Baseline, keep int) Info {
	t.Helper()
	var w *Writer
	var err error
	info := Info{Command: "update", Created: time.Unix(1e9, 0).UTC(), Roots: []string{"/"}}
	if parent == nil {
		w, err = db.Create(info)
	} else {
		w, err = db.CreateDelta(info, parent)
	}
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	nodes, root := m.nodes(t)
	var oldNodes map[string]merkle.Node
	if parent != nil {
		oldNodes, _ = old.nodes(t)
	}
	for _, e := range m.sorted() {
		n := nodes[e.Path]
		if parent == nil {
			err = w.Add(n)
		} else if o, ok := oldNodes[e.Path]; !ok {
			err = w.Put(n, nil)
		} else if o.Hash != n.Hash || !SameRecord(o.Entry, n.Entry) {
			err = w.Put(n, o.Entry)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, e := range old {
		if _, ok := m[p]; !ok && parent != nil {
			if err := w.Delete(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	in, err := w.Commit(root, keep)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return in
}

// checkModel checks that baseline id reads back as m: every entry, the
// root, counts, proofs of every path, and the stat cache of every directory.
func checkModel(t *testing.T, db *DB, id uint64, m model) {
	t.Helper()
	b, err := db.Baseline(id)
	if err != nil {
		t.Fatalf("Baseline(%d): %v", id, err)
	}
	nodes, root := m.nodes(t)
	if merkle.Hash(b.Info().Root) != root {
		t.Fatalf("baseline %d: root %s, want %x", id, b.Info().Root, root)
	}
	var want []merkle.Node
	var counts Counts
	for _, e := range m.sorted() {
		n := nodes[e.Path]
		if e.Type != merkle.TypeDir {
			n.Hash = merkle.Hash{}
		}
		want = append(want, n)
		counts.Add(e)
	}
	checkNodes(t, fmt.Sprintf("baseline %d", id), readAll(t, b.Iter()), want)
	if b.Info().Counts != counts {
		t.Errorf("baseline %d: counts %+v, want %+v", id, b.Info().Counts, counts)
	}
	if err := b.Verify(); err != nil {
		t.Errorf("baseline %d: Verify: %v", id, err)
	}
	for p, e := range m {
		got, err := b.Lookup(p)
		if err != nil {
			t.Fatalf("baseline %d: Lookup(%s): %v", id, p, err)
		}
		if !SameRecord(got, e) {
			t.Errorf("baseline %d: Lookup(%s) = %+v, want %+v", id, p, got, e)
		}
		if e.Type == merkle.TypeDir {
			kids, err := cachedChildren(b.Cache(), p, 2)
			if err != nil {
				t.Fatalf("baseline %d: Cache().Children(%s): %v", id, p, err)
			}
			for _, k := range kids {
				if w := m[k.Path]; w == nil || merkle.Parent(k.Path) != p || !SameRecord(&k, w) {
					t.Errorf("baseline %d: Cache().Children(%s) holds %s, not as recorded", id, p, k.Path)
				}
			}
		}
	}
	if _, err := b.Lookup("/no/such/path"); !errors.Is(err, ErrNotFound) {
		t.Errorf("baseline %d: Lookup of an unrecorded path = %v, want %v", id, err, ErrNotFound)
	}
}

// bruteDiff lists the paths whose entries differ between a and b.
func bruteDiff(a, b model) []string {
	var out []string
	for p, e := range a {
		if f, ok := b[p]; !ok || merkle.Compare(e, f) != 0 || e.Type != f.Type {
			out = append(out, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, merkle.ComparePaths)
	return slices.Compact(out)
}

// FuzzHistory runs random sequences of whole and delta baselines, prunes and
// compactions against an in-memory model: every kept baseline reads back
// exactly as written and verifies, diffs between any two equal a brute-force
// comparison, and the database stays consistent.
func FuzzHistory(f *testing.F) {
	f.Add(uint64(1), uint8(3))
	f.Add(uint64(7), uint8(1))
	f.Add(uint64(42), uint8(5))
	f.Fuzz(func(t *testing.T, seed uint64, keep uint8) {
		r := rand.New(rand.NewPCG(seed, 99))
		k := int(keep%5) + 1
		db := openDB(t, filepath.Join(t.TempDir(), "vigil.db"), Options{})
		serial := 0
		cur := model{}
		for _, e := range smallTree() {
			cur[e.Path] = e
		}
		kept := map[uint64]model{}
		var order []uint64
		var parent *Baseline
		var parentModel model
		for step := range 12 {
			switch {
			case step > 0 && r.IntN(8) == 0:
				if _, _, err := db.Compact(); err != nil {
					t.Fatalf("Compact: %v", err)
				}
				var err error
				if parent, err = db.Current(); err != nil {
					t.Fatal(err)
				}
				continue
			case step > 0 && r.IntN(5) == 0:
				parent = nil // a whole baseline (init --force)
			}
			next := cur
			if step > 0 {
				next = cur.mutate(r, 1+r.IntN(6), &serial)
			}
			in := writeModel(t, db, next, parentModel, parent, k)
			kept[in.ID], cur = next, next
			order = append(order, in.ID)
			var err error
			if parent, err = db.Baseline(in.ID); err != nil {
				t.Fatal(err)
			}
			parentModel = next
			if len(order) > k {
				delete(kept, order[len(order)-k-1])
			}
			all, err := db.Baselines()
			if err != nil {
				t.Fatal(err)
			}
			var ids []uint64
			for _, in := range all {
				ids = append(ids, in.ID)
			}
			if want := slices.Sorted(maps.Keys(kept)); !slices.Equal(ids, want) {
				t.Fatalf("step %d: baselines %v, want %v", step, ids, want)
			}
		}
		for id, m := range kept {
			checkModel(t, db, id, m)
		}
		for a, ma := range kept {
			for b, mb := range kept {
				ba, _ := db.Baseline(a)
				bb, _ := db.Baseline(b)
				var got []string
				err := merkle.Diff(ba, bb, "/", func(c merkle.Change) error {
					got = append(got, c.Path)
					return nil
				})
				if err != nil {
					t.Fatalf("Diff(%d, %d): %v", a, b, err)
				}
				if diff := cmp.Diff(got, bruteDiff(ma, mb)); diff != "" {
					t.Errorf("Diff(%d, %d) (-got +want):\n%s", a, b, diff)
				}
			}
		}
	})
}
