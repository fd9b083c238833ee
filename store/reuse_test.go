package store

import (
	"fmt"
	"slices"
	"testing"

	"vigil/merkle"
)

// TestVerifierLeafHash checks that the Verifier hands out only the leaf hash
// it computed itself from the record, never the hash the record carries,
// and only for the last leaf added.
func TestVerifierLeafHash(t *testing.T) {
	v := NewVerifier(Info{}, false)
	root := &merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrAll}
	a := &merkle.Entry{Path: "/a", Type: merkle.TypeFile, Size: 5, Attrs: merkle.AttrAll}
	b := &merkle.Entry{Path: "/b", Type: merkle.TypeFile, Size: 6, Attrs: merkle.AttrAll}
	v.Add(merkle.Node{Entry: root})
	if _, ok := v.LeafHash(root); ok {
		t.Error("LeafHash of a directory")
	}
	v.Add(merkle.Node{Entry: a, Hash: merkle.Hash{1}}) // a forged stored hash
	want, _ := merkle.LeafHash(a, nil)
	if h, ok := v.LeafHash(a); !ok || h != want {
		t.Errorf("LeafHash(/a) = %x, %v; want %x, true", h, ok, want)
	}
	copyA := *a
	if _, ok := v.LeafHash(&copyA); ok {
		t.Error("LeafHash of an entry the Verifier did not read")
	}
	v.Add(merkle.Node{Entry: b})
	if _, ok := v.LeafHash(a); ok {
		t.Error("LeafHash of a leaf that is no longer the last")
	}

	v1 := NewVerifier(Info{}, false)
	v1.version = merkle.V1
	v1.Add(merkle.Node{Entry: a})
	if _, ok := v1.LeafHash(a); ok {
		t.Error("LeafHash from a V1 baseline")
	}
}

// BenchmarkVerifyAndRebuild is the hashing a check does per unchanged
// entry: the Verifier re-hashes the stored tree and a Builder hashes the
// scanned one; with reuse=true the Builder takes the leaf hashes the
// Verifier computed (what the engine does for an unchanged leaf).
func BenchmarkVerifyAndRebuild(b *testing.B) {
	var stored, scanned []merkle.Entry
	stored = append(stored, merkle.Entry{Path: "/", Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll})
	for d := range 100 {
		dir := fmt.Sprintf("/d%03d", d)
		stored = append(stored, merkle.Entry{Path: dir, Type: merkle.TypeDir, Perm: 0o755, Inode: uint64(d), Attrs: merkle.AttrAll})
		for f := range 100 {
			stored = append(stored, merkle.Entry{Path: fmt.Sprintf("%s/file-%04d.txt", dir, f), Type: merkle.TypeFile,
				Perm: 0o644, Size: int64(f * 100), Mtime: 1e18, Ctime: 1e18, Inode: uint64(d*1000 + f), Nlink: 1,
				HashState: merkle.HashOK, Hash: [32]byte{byte(f)}, Attrs: merkle.AttrAll})
		}
	}
	var nodes []merkle.Node
	bld := merkle.NewBuilder(func(n merkle.Node) error { nodes = append(nodes, n); return nil })
	for i := range stored {
		if err := bld.Add(&stored[i]); err != nil {
			b.Fatal(err)
		}
	}
	root, err := bld.Finish()
	if err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(nodes, func(x, y merkle.Node) int { return merkle.ComparePaths(x.Entry.Path, y.Entry.Path) })
	scanned = slices.Clone(stored)
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprintf("reuse=%v", reuse), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := NewVerifier(Info{Root: RootHash(root)}, false)
				nb := merkle.NewBuilder(nil)
				for i, n := range nodes {
					v.Add(n)
					e := &scanned[i]
					if h, ok := v.LeafHash(n.Entry); reuse && ok && merkle.SameLeaf(n.Entry, e) {
						err = nb.AddHashed(e, h)
					} else {
						err = nb.Add(e)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if got, err := nb.Finish(); err != nil || got != root {
					b.Fatalf("root %x, %v; want %x", got, err, root)
				}
				if err := v.Finish(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(nodes)), "ns/entry")
		})
	}
}
