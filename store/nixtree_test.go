package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
	"vigil/merkle"
)

// commitNix writes a whole baseline of smallTree recording the Nix tree t
// with records (nil: carried over).
func commitNix(t *testing.T, db *DB, tree *NixTree, records []NixRecord, keep int) (Info, error) {
	t.Helper()
	w, err := db.Create(Info{Command: "init", Host: "test", Roots: []string{"/"}, Created: time.Unix(1e9, 0).UTC()})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	b := merkle.NewBuilder(w.Add)
	for _, e := range smallTree() {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	w.SetNixTree(tree, records)
	info, err := w.Commit(root, keep)
	if err != nil {
		return info, errors.Join(err, w.Abort())
	}
	return info, nil
}

func nixRecords(n int, tag string) []NixRecord {
	out := make([]NixRecord, n)
	for i := range out {
		out[i] = NixRecord{Path: fmt.Sprintf("/nix/store/%04d-p", i), Data: []byte(tag + fmt.Sprint(i))}
	}
	return out
}

func readNix(t *testing.T, db *DB) []NixRecord {
	t.Helper()
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	var got []NixRecord
	if err := cur.NixRecords(func(r NixRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatalf("NixRecords of baseline %d: %v", cur.Info().ID, err)
	}
	return got
}

// TestNixTree writes a tree with a baseline, carries it to the next,
// replaces it, and checks that the records read back are the ones written
// and that a tree no baseline names is deleted.
func TestNixTree(t *testing.T) {
	db := newDB(t)
	a := &NixTree{Root: RootHash{1}, Paths: 3}
	recs := nixRecords(3, "a")
	if _, err := commitNix(t, db, a, recs, 2); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recs, readNix(t, db)); d != "" {
		t.Fatalf("records read back (-want +got):\n%s", d)
	}
	// Carried over: no records given, the stored ones are named.
	in, err := commitNix(t, db, a, nil, 2)
	if err != nil {
		t.Fatalf("a baseline carrying tree %s: %v", a.Root, err)
	}
	if in.Nix == nil || in.Nix.Root != a.Root {
		t.Fatalf("baseline %d records Nix tree %+v, want root %s", in.ID, in.Nix, a.Root)
	}
	if d := cmp.Diff(recs, readNix(t, db)); d != "" {
		t.Fatalf("records of the carried tree (-want +got):\n%s", d)
	}
	// A tree whose records were never written is refused, and nothing is
	// committed.
	if _, err := commitNix(t, db, &NixTree{Root: RootHash{9}}, nil, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("commit naming an unstored tree = %v, want ErrNotFound", err)
	}
	b := &NixTree{Root: RootHash{2}, Paths: 5}
	recsB := nixRecords(5, "b")
	if _, err := commitNix(t, db, b, recsB, 1); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recsB, readNix(t, db)); d != "" {
		t.Fatalf("records of the new tree (-want +got):\n%s", d)
	}
	var trees []string
	if err := db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNix).ForEachBucket(func(k []byte) error { trees = append(trees, RootHash(k).String()); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{b.Root.String()}; !cmp.Equal(trees, want) {
		t.Errorf("Nix trees stored after pruning to one baseline = %v, want %v", trees, want)
	}
}

// TestNixTreeMissing checks that a baseline whose tree's records are gone
// is reported by Check and by NixRecords.
func TestNixTreeMissing(t *testing.T) {
	db := openDB(t, t.TempDir()+"/vigil.db", Options{})
	b := &NixTree{Root: RootHash{3}, Paths: 2}
	if _, err := commitNix(t, db, b, nixRecords(2, "x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := db.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNix).DeleteBucket(b.Root[:]) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check with the Nix tree's records deleted = %v, want ErrCorrupt", err)
	}
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.NixRecords(func(NixRecord) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("NixRecords with the records deleted = %v, want ErrCorrupt", err)
	}
	// Put back, so that the cleanup's Check passes.
	if err := db.update(func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(bucketNix).CreateBucket(b.Root[:])
		if err != nil {
			return err
		}
		return rb.Put([]byte("/nix/store/0000-p"), []byte("x0"))
	}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkNixTree writes a baseline with a Nix tree of 100,000 records
// of 350 bytes (a store path's canonical record is 300 to 600) and reads
// them back; it reports the database's growth per store path.
func BenchmarkNixTree(b *testing.B) {
	const n = 100000
	recs := make([]NixRecord, n)
	for i := range recs {
		recs[i] = NixRecord{Path: fmt.Sprintf("/nix/store/%032d-package-%d", i, i), Data: bytes.Repeat([]byte{'r'}, 350)}
	}
	dir := b.TempDir()
	db, err := Open(dir+"/vigil.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	size0, _ := db.Size()
	var root byte
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			root++
			w, err := db.Create(Info{Command: "init", Host: "test", Roots: []string{"/"}})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Add(merkle.Node{Entry: dirEntry("/")}); err != nil {
				b.Fatal(err)
			}
			w.SetNixTree(&NixTree{Root: RootHash{root}, Paths: n}, recs)
			if _, err := w.Commit(merkle.Hash{}, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	size1, _ := db.Size()
	b.Run("read", func(b *testing.B) {
		cur, err := db.Current()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			k := 0
			if err := cur.NixRecords(func(NixRecord) error { k++; return nil }); err != nil || k != n {
				b.Fatalf("NixRecords: %v, %d records", err, k)
			}
		}
		b.ReportMetric(float64(size1-size0)/n, "dbB/path")
	})
}

// failSwitch fails every call it is offered while on.
type failSwitch struct{ on bool }

func (f *failSwitch) Inject(fsys.Op, string) error {
	if f.on {
		return unix.EIO
	}
	return nil
}

// TestNixTreeCommitFails: a commit whose transaction fails leaves the
// previous baseline current with its tree, and no record of the new tree
// stored (the records go in the commit's transaction, or nowhere).
func TestNixTreeCommitFails(t *testing.T) {
	f := &failSwitch{}
	db := openDB(t, t.TempDir()+"/vigil.db", Options{Faults: f})
	a := &NixTree{Root: RootHash{1}, Paths: 3}
	if _, err := commitNix(t, db, a, nixRecords(3, "a"), 2); err != nil {
		t.Fatal(err)
	}
	w, err := db.Create(Info{Command: "init", Host: "test", Roots: []string{"/"}, Created: time.Unix(1e9, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(merkle.Node{Entry: dirEntry("/")}); err != nil {
		t.Fatal(err)
	}
	b := &NixTree{Root: RootHash{2}, Paths: 4}
	w.SetNixTree(b, nixRecords(4, "b"))
	f.on = true
	if _, err := w.Commit(merkle.Hash{}, 2); err == nil {
		t.Fatal("Commit with its transaction failing = nil error")
	}
	f.on = false
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Info().Nix == nil || cur.Info().Nix.Root != a.Root {
		t.Fatalf("current baseline after the failed commit records Nix tree %+v, want %s", cur.Info().Nix, a.Root)
	}
	if d := cmp.Diff(nixRecords(3, "a"), readNix(t, db)); d != "" {
		t.Errorf("records after the failed commit (-want +got):\n%s", d)
	}
	if err := db.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketNix).Bucket(b.Root[:]) != nil {
			return fmt.Errorf("the failed commit's tree %s is stored", b.Root)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
