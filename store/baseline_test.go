package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
	"vigil/scanner"
)

// bigTree has more entries than one Writer batch (batchEntries) and one
// directory with more children than one Iter chunk (iterChunk), and names
// that sort next to '/' and next to the key encoding's NUL and 0x01.
func bigTree() []*merkle.Entry {
	var out []*merkle.Entry
	add := func(e *merkle.Entry) { out = append(out, e) }
	add(dirEntry("/"))
	add(dirEntry("/a"))
	for i := range max(iterChunk, 2048) + 452 { // several chunks, and enough entries for a batch
		add(fileEntry(fmt.Sprintf("/a/f%05d", i), i))
	}
	add(dirEntry("/a/sub"))
	add(fileEntry("/a/sub/x", 1))
	add(dirEntry("/a/sub/y"))
	add(fileEntry("/a/sub/y/z", 2))
	add(fileEntry("/a/sub-z", 3))
	add(fileEntry("/a-b", 4))
	add(dirEntry("/a\x01"))
	add(fileEntry("/a\x01/c", 5))
	add(fileEntry("/a0", 6))
	add(dirEntry("/b"))
	for d := range 15 {
		dir := fmt.Sprintf("/b/d%02d", d)
		add(dirEntry(dir))
		for i := range 1000 {
			add(fileEntry(fmt.Sprintf("%s/%03d", dir, i), d*1000+i))
		}
	}
	add(&merkle.Entry{Path: "/c", Type: merkle.TypeSymlink, Target: "a/sub", Attrs: merkle.AttrAll})
	slices.SortFunc(out, func(a, b *merkle.Entry) int { return merkle.ComparePaths(a.Path, b.Path) })
	return out
}

// readAll drains it.
func readAll(t *testing.T, it *Iter) []merkle.Node {
	t.Helper()
	var out []merkle.Node
	for {
		n, err := it.Next()
		if err != nil {
			t.Fatalf("Iter.Next after %d nodes: %v", len(out), err)
		}
		if n.Entry == nil {
			return out
		}
		out = append(out, n)
		if len(out) > 1e6 {
			t.Fatal("Iter.Next does not end")
		}
	}
}

// nodesOf returns the nodes of entries within any of scopes (all for none)
// with the hashes the builder made.
func nodesOf(entries []*merkle.Entry, hashes map[string]merkle.Hash, scopes ...string) []merkle.Node {
	var out []merkle.Node
	for _, e := range entries {
		in := len(scopes) == 0
		for _, s := range scopes {
			in = in || merkle.Within(e.Path, s)
		}
		if in {
			out = append(out, merkle.Node{Entry: e, Hash: hashes[e.Path]})
		}
	}
	return out
}

func paths(nodes []merkle.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Entry.Path)
	}
	return out
}

func TestBaselineReadBack(t *testing.T) {
	db := newDB(t)
	entries := bigTree()
	info, hashes := writeBaseline(t, db, entries, 3)
	var counts Counts
	for _, e := range entries {
		counts.Add(e)
	}
	if counts.Entries <= batchEntries {
		t.Fatalf("bigTree has %d entries, want more than one batch (%d)", counts.Entries, batchEntries)
	}
	if info.Counts != counts || merkle.Hash(info.Root) != hashes["/"] {
		t.Errorf("Commit info: counts %+v root %s; want %+v, %x", info.Counts, info.Root, counts, hashes["/"])
	}
	cur, err := db.Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	if diff := cmp.Diff(cur.Info(), info); diff != "" {
		t.Errorf("Current().Info() (-got +want):\n%s", diff)
	}
	if all, err := db.Baselines(); err != nil || len(all) != 1 || all[0].ID != info.ID {
		t.Errorf("Baselines() = %+v, %v; want just baseline %d", all, err, info.ID)
	}

	t.Run("Iter", func(t *testing.T) {
		tests := []struct {
			name   string
			scopes []string
		}{
			{"whole", nil},
			{"root scope", []string{"/"}},
			{"big directory", []string{"/a"}},
			{"two scopes", []string{"/a-b", "/b/d03"}},
			{"unsorted scopes", []string{"/b/d07", "/a\x01", "/a/sub"}},
			{"file scope", []string{"/a0"}},
			{"missing scope", []string{"/nope", "/a/sub/nope"}},
			{"duplicate scopes", []string{"/b/d01", "/b/d01"}},
			{"nested scope", []string{"/a", "/a/sub"}},
			{"two nested scopes", []string{"/a", "/a/f00001", "/a/sub"}},
			{"nested scopes around a sibling", []string{"/b/d02/001", "/b", "/b/d02", "/b/d09/005"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := readAll(t, cur.Iter(tt.scopes...))
				want := nodesOf(entries, hashes, tt.scopes...)
				if !slices.Equal(paths(got), paths(want)) {
					t.Fatalf("Iter(%q): %d paths, want %d; first difference:\n%s", tt.scopes, len(got), len(want),
						firstDiff(paths(got), paths(want)))
				}
				// Iter returns the stored hashes: a directory's node hash,
				// zero for the rest.
				for i := range want {
					if want[i].Entry.Type != merkle.TypeDir {
						want[i].Hash = merkle.Hash{}
					}
				}
				checkNodes(t, fmt.Sprintf("Iter(%q)", tt.scopes), got, want)
			})
		}
	})

	t.Run("NextEntry", func(t *testing.T) {
		it := cur.Iter("/a/sub")
		var got []*merkle.Entry
		for {
			e, err := it.NextEntry()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				break
			}
			got = append(got, e)
		}
		var want []*merkle.Entry
		for _, n := range nodesOf(entries, hashes, "/a/sub") {
			want = append(want, n.Entry)
		}
		if diff := cmp.Diff(got, want, equateEmpty); diff != "" {
			t.Errorf("NextEntry over /a/sub (-got +want):\n%s", diff)
		}
	})

	t.Run("Node", func(t *testing.T) {
		byPath := map[string]*merkle.Entry{}
		for _, e := range entries {
			byPath[e.Path] = e
		}
		for _, p := range []string{"/", "/a", "/a/f02000", "/a\x01/c", "/b/d14/999", "/c", "/nope", "/a/f02000/nope"} {
			n, ok, err := cur.Node(p)
			want, wantOK := byPath[p]
			if err != nil || ok != wantOK {
				t.Errorf("Node(%q) = ok %v, err %v; want ok %v, nil", p, ok, err, wantOK)
				continue
			}
			if !ok {
				continue
			}
			if diff := cmp.Diff(n, merkle.Node{Entry: want, Hash: hashes[p]}, equateEmpty); diff != "" {
				t.Errorf("Node(%q) (-got +want):\n%s", p, diff)
			}
		}
	})

	t.Run("Children", func(t *testing.T) {
		for _, dir := range []string{"/", "/a", "/a/sub", "/a/sub/y", "/a\x01", "/b", "/b/d05", "/a/f00003", "/nope"} {
			var want []merkle.Node
			for _, n := range nodesOf(entries, hashes, dir) {
				if n.Entry.Path != "/" && merkle.Parent(n.Entry.Path) == dir {
					want = append(want, n)
				}
			}
			got, err := cur.Children(dir)
			if err != nil {
				t.Errorf("Children(%q): %v", dir, err)
				continue
			}
			checkNodes(t, fmt.Sprintf("Children(%q)", dir), got, want)
			for _, chunk := range []int{1, 2, 3, 1000} {
				cached, err := cachedChildren(cur.Cache(), dir, chunk)
				if err != nil {
					t.Errorf("Cache().Children(%q) in chunks of %d: %v", dir, chunk, err)
					continue
				}
				// The stat cache has entries, no hashes.
				var gotNodes, wantNodes []merkle.Node
				for i := range cached {
					gotNodes = append(gotNodes, merkle.Node{Entry: &cached[i]})
				}
				for _, n := range want {
					wantNodes = append(wantNodes, merkle.Node{Entry: n.Entry})
				}
				checkNodes(t, fmt.Sprintf("Cache().Children(%q) in chunks of %d", dir, chunk), gotNodes, wantNodes)
			}
		}
	})

	t.Run("Verify", func(t *testing.T) {
		if err := cur.Verify(); err != nil {
			t.Errorf("Verify: %v", err)
		}
		v := NewVerifier(info, false)
		for _, n := range readAll(t, cur.Iter("/a/sub", "/b/d03")) {
			v.Add(n)
		}
		if err := v.Finish(); err != nil {
			t.Errorf("Verifier over /a/sub and /b/d03: %v", err)
		}
	})

	t.Run("Diff", func(t *testing.T) {
		// A stored baseline is a merkle.Tree: diffing it against itself
		// finds nothing.
		var got []merkle.Change
		err := merkle.Diff(cur, cur, "/", func(c merkle.Change) error { got = append(got, c); return nil })
		if err != nil || len(got) != 0 {
			t.Errorf("Diff(cur, cur) = %v, %v; want no changes", got, err)
		}
	})
}

// checkNodes compares two node lists cheaply (cmp.Diff over thousands of
// nodes is slow under -race), and in detail at the first difference.
func checkNodes(t *testing.T, what string, got, want []merkle.Node) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d nodes, want %d; %s", what, len(got), len(want), firstDiff(paths(got), paths(want)))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Hash == w.Hash && g.Entry.Path == w.Entry.Path &&
			bytes.Equal(appendRecord(nil, g.Entry, nil), appendRecord(nil, canonical(w.Entry), nil)) {
			continue
		}
		t.Errorf("%s: node %d differs (-got +want):\n%s", what, i, cmp.Diff(g, w, equateEmpty))
		return
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra: %q", got[len(want)])
	}
	if len(want) > len(got) {
		return fmt.Sprintf("missing: %q", want[len(got)])
	}
	return "none"
}

// TestDiffStoredBaselines diffs two committed baselines through their
// merkle.Tree implementation.
func TestDiffStoredBaselines(t *testing.T) {
	db := newDB(t)
	before := smallTree()
	a, _ := writeBaseline(t, db, before, 2)
	after := smallTree()
	after[5].Perm = 0o600                          // /etc/passwd
	after = slices.Delete(after, 3, 4)             // /etc/hosts
	after = append(after, fileEntry("/usr/zz", 9)) // new
	b, _ := writeBaseline(t, db, after, 2)
	ba, err := db.Baseline(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := db.Baseline(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = merkle.Diff(ba, bb, "/", func(c merkle.Change) error {
		got = append(got, c.Action.String()+" "+c.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deleted /etc/hosts", "attributes_modified /etc/passwd", "created /usr/zz"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Diff of two stored baselines (-got +want):\n%s", diff)
	}
}

func TestWriterKeep(t *testing.T) {
	db := newDB(t)
	first, _ := writeBaseline(t, db, smallTree(), 3)
	old, err := db.Baseline(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for range 4 {
		in, _ := writeBaseline(t, db, smallTree(), 3)
		ids = append(ids, in.ID)
	}
	all, err := db.Baselines()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, in := range all {
		got = append(got, in.ID)
	}
	if diff := cmp.Diff(got, ids[1:]); diff != "" {
		t.Errorf("Baselines() after 5 commits keeping 3 (-got +want):\n%s", diff)
	}
	if cur, err := db.Current(); err != nil || cur.Info().ID != ids[3] {
		t.Errorf("Current() = %v, %v; want baseline %d", cur, err, ids[3])
	}
	if _, err := db.Baseline(first.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Baseline(%d) after pruning = %v, want %v", first.ID, err, ErrNotFound)
	}
	if _, _, err := old.Node("/"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Node on a pruned baseline = %v, want %v", err, ErrNotFound)
	}
	if _, err := old.Iter().Next(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Iter().Next on a pruned baseline = %v, want %v", err, ErrNotFound)
	}
	// keep < 1 means 1.
	last, _ := writeBaseline(t, db, smallTree(), 0)
	if all, err := db.Baselines(); err != nil || len(all) != 1 || all[0].ID != last.ID {
		t.Errorf("Baselines() after a commit keeping 0 = %+v, %v; want only %d", all, err, last.ID)
	}
}

// bucketIDs lists the ids of every baseline, complete or not.
func bucketIDs(t *testing.T, db *DB) []uint64 {
	t.Helper()
	var ids []uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		all, err := allInfos(tx)
		for _, in := range all {
			ids = append(ids, in.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func addAll(t *testing.T, w *Writer, entries []*merkle.Entry) merkle.Hash {
	t.Helper()
	b := merkle.NewBuilder(w.Add)
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatalf("Add(%s): %v", e.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestWriterAbort(t *testing.T) {
	db := newDB(t)
	prev, _ := writeBaseline(t, db, smallTree(), 5)
	w, err := db.Create(Info{Command: "update"})
	if err != nil {
		t.Fatal(err)
	}
	addAll(t, w, bigTree()) // more than one batch: some of it is written
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if ids := bucketIDs(t, db); !slices.Equal(ids, []uint64{prev.ID}) {
		t.Errorf("baseline buckets after Abort = %v, want [%d]", ids, prev.ID)
	}
	if cur, err := db.Current(); err != nil || cur.Info().ID != prev.ID {
		t.Errorf("Current() after Abort = %v, %v; want baseline %d", cur, err, prev.ID)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort = %v, want nil", err)
	}
	if _, err := w.Commit(merkle.Hash{}, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Commit after Abort = %v, want %v", err, ErrNotFound)
	}
}

func TestCreateDeletesIncomplete(t *testing.T) {
	db := newDB(t)
	dead, err := db.Create(Info{Command: "init"})
	if err != nil {
		t.Fatal(err)
	}
	addAll(t, dead, bigTree())
	// The writer is abandoned, as by a killed process.
	if all, err := db.Baselines(); err != nil || len(all) != 0 {
		t.Errorf("Baselines() with an unfinished baseline = %+v, %v; want none", all, err)
	}
	if _, err := db.Baseline(dead.ID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Baseline(%d) (unfinished) = %v, want %v", dead.ID(), err, ErrNotFound)
	}
	if _, err := db.Current(); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("Current() = %v, want %v", err, ErrNoBaseline)
	}
	if ids := bucketIDs(t, db); !slices.Equal(ids, []uint64{dead.ID()}) {
		t.Fatalf("baseline buckets = %v, want the unfinished %d", ids, dead.ID())
	}
	w, err := db.Create(Info{Command: "init"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := bucketIDs(t, db); !slices.Equal(ids, []uint64{w.ID()}) || w.ID() <= dead.ID() {
		t.Errorf("baseline buckets after the next Create = %v, want only the new %d (> %d)", ids, w.ID(), dead.ID())
	}
	root := addAll(t, w, smallTree())
	if _, err := w.Commit(root, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Commit(merkle.Hash{}, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Commit of the deleted unfinished baseline = %v, want %v", err, ErrNotFound)
	}
}

func TestWriterDuplicate(t *testing.T) {
	db := newDB(t)
	w, err := db.Create(Info{})
	if err != nil {
		t.Fatal(err)
	}
	e := fileEntry("/x", 1)
	for range 2 {
		if err := w.Add(merkle.Node{Entry: e}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(merkle.Hash{}, 1); !errors.Is(err, merkle.ErrUnsorted) {
		t.Errorf("Commit with a path added twice = %v, want %v", err, merkle.ErrUnsorted)
	}
	if _, err := db.Current(); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("Current() after a failed commit = %v, want %v", err, ErrNoBaseline)
	}
}

func TestEmptyBaseline(t *testing.T) {
	db := newDB(t)
	info, _ := writeBaseline(t, db, nil, 1)
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, cur.Iter()); len(got) != 0 || info.Counts.Entries != 0 {
		t.Errorf("empty baseline: Iter gave %d nodes, Counts %+v; want none", len(got), info.Counts)
	}
	if err := cur.Verify(); err != nil {
		t.Errorf("Verify(empty baseline) = %v", err)
	}
}

// cachedChildren reads all of dir's recorded children from the stat cache,
// n at a time, as the scanner does.
func cachedChildren(c scanner.Cache, dir string, n int) ([]merkle.Entry, error) {
	var out []merkle.Entry
	after := ""
	for {
		es, err := c.Children(dir, after, n)
		if err != nil {
			return out, err
		}
		if len(es) > n {
			return out, fmt.Errorf("%d entries asked, %d returned", n, len(es))
		}
		out = append(out, es...)
		if len(es) < n {
			return out, nil
		}
		after = es[len(es)-1].Name()
	}
}
