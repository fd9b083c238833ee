package scanner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// writeSparse creates path as a sparse file of size bytes holding data at
// each offset in at, and returns its full content as it reads.
func writeSparse(t *testing.T, path string, size int64, at map[int64][]byte) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for off, d := range at {
		if _, err := f.WriteAt(d, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(f.Truncate(size), f.Close()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestScanSparse: files with holes (leading, inner, trailing, data that is
// not block aligned) hash to the BLAKE3 of their full content, read through
// the page cache or not.
func TestScanSparse(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name string
		size int64
		at   map[int64][]byte
	}{
		{"all hole", 9*mib + 3, nil},
		{"leading hole", 8 * mib, map[int64][]byte{5*mib + 17: []byte("tail data")}},
		{"trailing hole", 8*mib + 1, map[int64][]byte{0: []byte("head")}},
		{"inner holes", 32 * mib, map[int64][]byte{
			0: []byte("a"), 3*mib - 1: make([]byte, 70000), 20 * mib: []byte("b"), 32*mib - 1: []byte("z"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for off := range tt.at {
				for i := range tt.at[off] {
					tt.at[off][i] = byte(i*7 + 1)
				}
			}
			want := blake3.Sum256(writeSparse(t, filepath.Join(root, "f"), tt.size, tt.at))
			for _, uncached := range []bool{false, true} {
				res := scan(t, root, scanner.Options{Uncached: uncached})
				e := res.entries["f"]
				if e == nil || e.HashState != merkle.HashOK || e.Hash != want {
					t.Errorf("scan (Uncached %v) of a sparse file of %d bytes: %+v, want hash %x", uncached, tt.size, e, want)
				}
			}
		})
	}
}

// TestScanGrowing: a file that grows by a gigabyte (sparse) at every read
// is recorded as unstable after a bounded amount of reading, instead of
// being read for as long as it grows.
func TestScanGrowing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	target := filepath.Join(root, "grows")
	if err := os.WriteFile(target, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int32
	res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
		if op != "read" || path != target {
			return nil
		}
		if reads.Add(1) > 1000 {
			return errors.New("still reading after 1000 reads")
		}
		st, err := os.Stat(target)
		if err != nil {
			return err
		}
		return os.Truncate(target, st.Size()+1<<30)
	}})
	e := res.entries["grows"]
	if e == nil || e.HashState != merkle.HashUnstable || e.Err != "" {
		t.Errorf("a growing file recorded as %+v, want hash state unstable and no error", e)
	}
	// 1 MiB is 4 reads of 256 KiB; after those the file is 4 GiB larger.
	if n := reads.Load(); n > 4 {
		t.Errorf("a growing file of 1 MiB took %d reads, want at most 4", n)
	}
}

// TestScanCancelDuringHash: cancelling the scan while a huge file (1 TiB,
// sparse) is hashed stops the hash at the next chunk.
func TestScanCancelDuringHash(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	target := filepath.Join(root, "huge")
	writeSparse(t, target, 0, nil)
	if err := os.Truncate(target, 1<<40); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var after atomic.Int32 // chunks started after the cancel
	var cancelled atomic.Bool
	opts := scanner.Options{Fault: func(op, path string) error {
		if op != "read" || path != target {
			return nil
		}
		if cancelled.Load() {
			if after.Add(1) > 1000 {
				return errors.New("still hashing 1000 chunks after the cancel")
			}
			return nil
		}
		cancelled.Store(true)
		cancel()
		return nil
	}}
	err := scanner.Scan(ctx, []string{root}, opts, func(*merkle.Entry) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Scan cancelled during a hash = %v, want %v", err, context.Canceled)
	}
	if n := after.Load(); n > 0 {
		t.Errorf("hashing went on for %d chunks after the cancel, want 0", n)
	}
}

// TestScanUncachedSizes: Uncached (O_DIRECT) reads hash files of sizes
// that are not multiples of the block size exactly as cached reads do.
func TestScanUncachedSizes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tr := fimtest.Tree{}
	for _, n := range []int{0, 1, 511, 4095, 4096, 4097, 256<<10 - 1, 256 << 10, 256<<10 + 1, 1<<20 + 3} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 13)
		}
		tr[fmt.Sprintf("f%d", n)] = fimtest.File(string(b))
	}
	tr.Make(t, root)
	res := scan(t, root, scanner.Options{Uncached: true})
	checkIntact(t, root, res)
	if len(res.errs) != 0 {
		t.Errorf("Uncached scan: errors %v, want none", res.errs)
	}
}

// TestScanChangingHugeFile: a huge file (10 GiB, sparse) that changes all
// the time is found unstable after a few restat intervals of reading, not
// after hashing it whole three times.
func TestScanChangingHugeFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	target := filepath.Join(root, "huge")
	must(t, os.WriteFile(target, []byte("head"), 0o644))
	must(t, os.Truncate(target, 10<<30))
	var chunks atomic.Int32
	when := time.Now()
	res := scan(t, root, scanner.Options{Fault: func(op, path string) error {
		if op != "read" || path != target {
			return nil
		}
		if chunks.Add(1) > 5000 {
			return errors.New("still hashing after 5000 chunks")
		}
		when = when.Add(time.Second)
		return os.Chtimes(target, when, when)
	}})
	if e := res.entries["huge"]; e == nil || e.HashState != merkle.HashUnstable || e.Err != "" {
		t.Errorf("a huge file changing all the time recorded as %+v, want hash state unstable and no error", e)
	}
	// Three attempts of 256 chunks (64 MiB) each, where hashing to the end
	// would take 40,960 chunks per attempt.
	if n := chunks.Load(); n > 3*256 {
		t.Errorf("a huge changing file took %d chunks, want at most %d", n, 3*256)
	}
}
