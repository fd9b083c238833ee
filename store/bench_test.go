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
