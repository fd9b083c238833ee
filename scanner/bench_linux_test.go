package scanner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/merkle"
)

var benchSizes = []int{0, 1 << 10, 4 << 10, 64 << 10, 1 << 20, 16 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkBlake3 is the hash alone, on memory, for comparison with
// BenchmarkFile.
func BenchmarkBlake3(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			buf := make([]byte, n)
			h := blake3.New()
			var sum [32]byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				h.Reset()
				h.Write(buf)
				h.Sum(sum[:0])
			}
		})
	}
}

// BenchmarkFile is the whole per-file path of a scan that reads a file:
// open (no-follow, beneath), fstat, inode flags, xattrs, read and hash,
// fstat again, close.
func BenchmarkFile(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "f")
			if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
				b.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				b.Fatal(err)
			}
			var e merkle.Entry
			fillStat(&e, &st, 0)
			e.Path, e.Attrs = p, merkle.AttrAll
			dfd, err := unix.Open(filepath.Dir(p), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				b.Fatal(err)
			}
			dir := &dirFD{fd: dfd}
			dir.hold()
			defer dir.release()
			h := newHasher(&Options{})
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				ec := e
				dir.hold()
				j := &job{e: &ec, hash: true, dir: dir, done: make(chan struct{})}
				h.do(context.Background(), j)
				if j.err != nil || ec.HashState != merkle.HashOK {
					b.Fatalf("do(%s) = %v, state %v", p, j.err, ec.HashState)
				}
			}
		})
	}
}

// makeBenchTree writes n files of 0-4 KiB, 100 per directory, two levels
// deep, and returns the root and the total size.
func makeBenchTree(b *testing.B, n int) (string, int64) {
	root := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var total int64
	buf := make([]byte, 4096)
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i/10000), fmt.Sprintf("s%03d", i/100%100))
		if i%100 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		size := r.IntN(4097)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), buf[:size], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	return root, total
}

func scanAll(b *testing.B, root string, opts Options) int {
	n := 0
	err := Scan(context.Background(), []string{root}, opts, func(*merkle.Entry) error { n++; return nil })
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkScan scans a tree of 10,000 small files: reading every file
// (init, check --full) and with a stat cache that matches (check).
func BenchmarkScan(b *testing.B) {
	const files = 10000
	root, total := makeBenchTree(b, files)
	b.Run("hash", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			scanAll(b, root, Options{})
		}
		b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run("cached", func(b *testing.B) {
		cache := MemCache{}
		err := Scan(context.Background(), []string{root}, Options{}, func(e *merkle.Entry) error {
			e.HashedAt = e.Ctime + 2*racyWindow // as if hashed well after the last change
			d := merkle.Parent(e.Path)
			cache[d] = append(cache[d], *e)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		var st Stats
		b.ReportAllocs()
		for b.Loop() {
			scanAll(b, root, Options{Cache: cache, Stats: &st})
		}
		if st.Hashed.Load() != 0 {
			b.Fatalf("cached scan hashed %d files, want 0", st.Hashed.Load())
		}
		b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run("sampled", func(b *testing.B) {
		cache := MemCache{}
		err := Scan(context.Background(), []string{root}, Options{}, func(e *merkle.Entry) error {
			e.HashedAt = e.Ctime + 2*racyWindow
			d := merkle.Parent(e.Path)
			cache[d] = append(cache[d], *e)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		var st Stats
		b.ReportAllocs()
		check := uint64(0)
		for b.Loop() {
			check++
			scanAll(b, root, Options{Cache: cache, Stats: &st, Sample: &Sample{Key: [32]byte{7}, Check: check, Within: 30}})
		}
		b.ReportMetric(float64(st.Sampled.Load())/float64(b.N), "sampled/op")
		b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkScanWorkers sweeps the hash worker count (warm cache).
func BenchmarkScanWorkers(b *testing.B) {
	root, total := makeBenchTree(b, 10000)
	for _, w := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("hash=%d", w), func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				scanAll(b, root, Options{HashWorkers: w})
			}
		})
	}
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("dir=%d", w), func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				scanAll(b, root, Options{DirWorkers: w})
			}
		})
	}
}

// BenchmarkSparse hashes a sparse file (a 2 GiB hole with 1 MiB of data at
// the start and the end) through the per-file path, as BenchmarkFile does.
func BenchmarkSparse(b *testing.B) {
	const size = 2 << 30
	p := filepath.Join(b.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	_, err1 := f.WriteAt(data, 0)
	_, err2 := f.WriteAt(data, size-int64(len(data)))
	if err := errors.Join(err1, err2, f.Close()); err != nil {
		b.Fatal(err)
	}
	benchHashFile(b, p, size)
}

// benchHashFile runs the scanner's per-file path on p, size bytes long.
func benchHashFile(b *testing.B, p string, size int64) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		b.Fatal(err)
	}
	var e merkle.Entry
	fillStat(&e, &st, 0)
	e.Path, e.Attrs = p, merkle.AttrAll
	h := newHasher(&Options{})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		ec := e
		j := &job{e: &ec, hash: true, done: make(chan struct{})}
		h.do(context.Background(), j)
		if j.err != nil || ec.HashState != merkle.HashOK {
			b.Fatalf("do(%s) = %v, state %v", p, j.err, ec.HashState)
		}
	}
}

// BenchmarkSampleDue is the keyed decision made for each file the stat
// cache trusts when a Sample is set.
func BenchmarkSampleDue(b *testing.B) {
	p := newSampler(&Sample{Key: [32]byte{1}, Check: 12345, Within: 30})
	e := merkle.Entry{Path: "/usr/lib/x86_64-linux-gnu/libc.so.6", Dev: 2049, Inode: 1234567}
	b.ReportAllocs()
	for b.Loop() {
		p.due(&e)
	}
}
