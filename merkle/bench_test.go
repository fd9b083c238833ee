package merkle_test

import (
	"fmt"
	"testing"

	"vigil/merkle"
)

func benchEntry() *merkle.Entry {
	return &merkle.Entry{
		Path: "/usr/share/doc/libfoo/changelog.Debian.gz", Type: merkle.TypeFile, Perm: 0o644,
		Size: 1234, Mtime: 1700000000123456789, Ctime: 1700000000123456789, Inode: 123456, Nlink: 1,
		HashState: merkle.HashOK, Hash: [32]byte{1, 2, 3}, Attrs: merkle.AttrAll, HasFlags: true, Flags: 0x80000,
	}
}

// BenchmarkLeafHash is the canonical encoding plus its BLAKE3, per entry.
func BenchmarkLeafHash(b *testing.B) {
	e := benchEntry()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		_, buf = merkle.LeafHash(e, buf)
	}
}

// BenchmarkAppendAttested is the canonical encoding alone.
func BenchmarkAppendAttested(b *testing.B) {
	e := benchEntry()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = merkle.AppendAttested(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkBuilder builds a tree of directories of 100 files each, the
// attested tree and the portable one (init and update build both).
func BenchmarkBuilder(b *testing.B) {
	for _, kind := range []string{"attested", "portable"} {
		b.Run(kind, func(b *testing.B) { benchBuilder(b, kind == "portable") })
	}
}

func benchBuilder(b *testing.B, portable bool) {
	const dirs, files = 100, 100
	entries := []*merkle.Entry{{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrAll}}
	for d := range dirs {
		dp := fmt.Sprintf("/d%03d", d)
		entries = append(entries, &merkle.Entry{Path: dp, Type: merkle.TypeDir, Attrs: merkle.AttrAll})
		for f := range files {
			e := benchEntry()
			e.Path = fmt.Sprintf("%s/f%03d", dp, f)
			entries = append(entries, e)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		bl := merkle.NewBuilder(nil)
		if portable {
			bl = merkle.NewPortableBuilder(merkle.PortableAttrs, nil)
		}
		for _, e := range entries {
			if err := bl.Add(e); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(entries)), "ns/entry")
}
