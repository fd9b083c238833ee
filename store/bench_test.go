package store

import (
	"fmt"
	"path/filepath"
	"testing"

	"vigil/merkle"
)

// benchTree returns a tree of dirs directories of files files each, in
// path order, with attributes like a real file's.
func benchTree(dirs, files int) []*merkle.Entry {
	out := []*merkle.Entry{{Path: "/", Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll}}
	for d := range dirs {
		dp := fmt.Sprintf("/usr/share/d%04d", d)
		if d == 0 {
			out = append(out,
				&merkle.Entry{Path: "/usr", Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll},
				&merkle.Entry{Path: "/usr/share", Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll})
		}
		out = append(out, &merkle.Entry{Path: dp, Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll})
		for f := range files {
			out = append(out, &merkle.Entry{
				Path: fmt.Sprintf("%s/file-%05d.txt", dp, f), Type: merkle.TypeFile, Perm: 0o644,
				Size: int64(f * 37), Mtime: 1700000000123456789 + int64(f), Ctime: 1700000000123456789 + int64(f),
				Inode: uint64(d*files + f + 1000), Nlink: 1, Dev: 2049, HashState: merkle.HashOK,
				Hash: [32]byte{byte(f), byte(d)}, HashedAt: 1800000000000000000, Attrs: merkle.AttrAll, HasFlags: true,
			})
		}
	}
	return out
}

// writeBench writes entries as the current baseline, as init does: a
// Builder feeding a Writer, then the commit.
func writeBench(b *testing.B, db *DB, entries []*merkle.Entry) {
	w, err := db.Create(Info{Command: "init"})
	if err != nil {
		b.Fatal(err)
	}
	bl := merkle.NewBuilder(w.Add)
	for _, e := range entries {
		if err := bl.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	root, err := bl.Finish()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Commit(root, 1); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWrite writes a baseline of 100,000 entries: a Builder feeding a
// Writer, as init does, batches of 16,384 entries per transaction, then the
// commit that switches it in.
func BenchmarkWrite(b *testing.B) {
	entries := benchTree(1000, 100)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db, err := Open(filepath.Join(b.TempDir(), "vigil.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		writeBench(b, db, entries)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(entries)), "ns/entry")
}

// BenchmarkRecord is the stored encoding of one file entry, both ways.
func BenchmarkRecord(b *testing.B) {
	e := benchTree(1, 1)[3]
	buf := appendRecord(nil, e, nil)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendRecord(buf[:0], e, nil)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		var out merkle.Entry
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeInto(&out, e.Path, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}

// BenchmarkIter reads a baseline of 100,000 entries back in path order, as
// check does.
func BenchmarkIter(b *testing.B) {
	entries := benchTree(1000, 100)
	db, err := Open(filepath.Join(b.TempDir(), "vigil.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	writeBench(b, db, entries)
	cur, err := db.Current()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		it, n := cur.Iter(), 0
		for {
			nd, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			if nd.Entry == nil {
				break
			}
			n++
		}
		if n != len(entries) {
			b.Fatalf("read %d entries, want %d", n, len(entries))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(entries)), "ns/entry")
}

// benchHistory writes a baseline of dirs x files entries, then a delta
// over it with ten files changed, and returns both.
func benchHistory(b *testing.B, dirs, files int) (*DB, *Baseline, *Baseline) {
	db, err := Open(filepath.Join(b.TempDir(), "vigil.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	m := model{}
	for _, e := range benchTree(dirs, files) {
		m[e.Path] = e
	}
	writeModel(b, db, m, nil, nil, 2)
	first, err := db.Current()
	if err != nil {
		b.Fatal(err)
	}
	next := model{}
	for p, e := range m {
		next[p] = e
	}
	for i := range 10 {
		p := fmt.Sprintf("/usr/share/d%04d/file-%05d.txt", i*dirs/10, i)
		c := *next[p]
		c.Hash[5]++
		next[p] = &c
	}
	writeModel(b, db, next, m, first, 2)
	second, err := db.Current()
	if err != nil {
		b.Fatal(err)
	}
	return db, first, second
}

// BenchmarkDiff diffs two baselines of 100,000 files ten changes apart:
// the cost grows with the changes and the fan-out of the directories
// above them, not with the tree.
func BenchmarkDiff(b *testing.B) {
	_, first, second := benchHistory(b, 100, 1000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := merkle.Diff(first, second, "/", func(merkle.Change) error { n++; return nil })
		if err != nil || n != 10 {
			b.Fatalf("Diff: %d changes, %v; want 10", n, err)
		}
	}
}

// BenchmarkLookup verifies one file through its path to the root in a
// directory of 18,000 files (the size of /usr/share/man/man1) and reports
// the proof's size.
func BenchmarkLookup(b *testing.B) {
	_, _, cur := benchHistory(b, 10, 18000)
	const path = "/usr/share/d0005/file-09000.txt"
	p, err := cur.Proof(path)
	if err != nil {
		b.Fatal(err)
	}
	hashes := 0
	for _, s := range p.Steps {
		hashes += len(s.Path)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cur.Lookup(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(hashes), "proof-hashes")
}
