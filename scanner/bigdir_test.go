//go:build linux

package scanner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"vigil/merkle"
	"vigil/scanner"
)

// countingCache is a stat cache that counts the chunks asked of it.
type countingCache struct {
	scanner.MemCache
	mu    sync.Mutex
	calls map[string]int
	most  int // the largest chunk asked for
}

func (c *countingCache) Children(dir, after string, n int) ([]merkle.Entry, error) {
	c.mu.Lock()
	c.calls[dir]++
	c.most = max(c.most, n)
	c.mu.Unlock()
	return c.MemCache.Children(dir, after, n)
}

// TestScanHugeDirectory: a directory of more than two listing chunks is
// scanned whole and in order, with the subdirectories of every chunk
// descended into; with a stat cache, read a chunk at a time, every
// unchanged file is trusted, and a changed, an added and a removed file in
// later chunks are found.
func TestScanHugeDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	n := 2*scanner.ListChunk + 100
	for i := range n {
		name := filepath.Join(root, fmt.Sprintf("f%05d", i))
		must(t, os.WriteFile(name, []byte(fmt.Sprintf("%05d", i)), 0o644))
		if i%1000 == 0 {
			d := filepath.Join(root, fmt.Sprintf("f%05d.d", i))
			must(t, os.Mkdir(d, 0o755))
			must(t, os.WriteFile(filepath.Join(d, "x"), []byte("x"), 0o644))
		}
	}
	dirs := n/1000 + 1
	first := scan(t, root, scanner.Options{})
	if want := 1 + n + 2*dirs; len(first.order) != want {
		t.Fatalf("scan of %d files and %d directories: %d entries, want %d", n, dirs, len(first.order), want)
	}
	if !slices.IsSortedFunc(first.order, merkle.ComparePaths) {
		t.Errorf("scan of a huge directory: entries not in path order")
	}
	if got := first.stats.Hashed.Load(); got != int64(n+dirs) {
		t.Errorf("scan without a cache hashed %d files, want %d", got, n+dirs)
	}

	cache := &countingCache{MemCache: record(first), calls: map[string]int{}}
	changed, added, removed := "f08000", "f06000a", "f05000"
	must(t, os.WriteFile(filepath.Join(root, changed), []byte("CHANGED"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, added), []byte("new"), 0o644))
	must(t, os.Remove(filepath.Join(root, removed)))
	res := scan(t, root, scanner.Options{Cache: cache})

	if want := n + dirs - 2; res.stats.CacheHits.Load() != int64(want) {
		t.Errorf("scan with the cache: %d cache hits, want %d (all but the changed and the removed file)", res.stats.CacheHits.Load(), want)
	}
	if got := res.stats.Hashed.Load(); got != 2 {
		t.Errorf("scan with the cache hashed %d files, want 2 (%s and %s)", got, changed, added)
	}
	if got, want := cache.calls[root], (n+2*dirs)/scanner.ListChunk+1; got != want {
		t.Errorf("Children(%s) asked %d times, want %d (one per chunk)", root, got, want)
	}
	if cache.most > scanner.ListChunk {
		t.Errorf("Children asked for %d entries at once, want at most %d", cache.most, scanner.ListChunk)
	}
	var want []string
	for _, p := range first.order {
		if p != removed {
			want = append(want, p)
		}
	}
	want = append(want, added)
	slices.SortFunc(want, merkle.ComparePaths)
	if diff := cmp.Diff(want, res.order); diff != "" {
		t.Errorf("scan with the cache: paths (-want +got):\n%s", diff)
	}
	for _, p := range res.order {
		if p == changed || p == added || p == "." {
			continue // "." changed with them
		}
		// The cache's hash times are set later than the first scan's.
		if diff := cmp.Diff(first.entries[p], res.entries[p], cmpopts.IgnoreFields(merkle.Entry{}, "HashedAt")); diff != "" {
			t.Errorf("%s from the cache differs from its first scan (-first +cached):\n%s", p, diff)
		}
	}
	if e := res.entries[changed]; e.Size != 7 || e.HashState != merkle.HashOK {
		t.Errorf("%s after its change: size %d, hash state %v; want 7, ok", changed, e.Size, e.HashState)
	}
}

// TestScanHugeDirectoryStopped: a visit that fails in the middle of a huge
// directory's second chunk stops the scan with its error (and the listing's
// names are let go on the way out).
func TestScanHugeDirectoryStopped(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i := range scanner.ListChunk + 500 {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i)), nil, 0o644))
	}
	stop := errors.New("enough")
	n := 0
	err := scanner.Scan(t.Context(), []string{root}, scanner.Options{}, func(*merkle.Entry) error {
		if n++; n == scanner.ListChunk+10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != scanner.ListChunk+10 {
		t.Errorf("Scan with a visit failing at entry %d = %v after %d entries, want %v", scanner.ListChunk+10, err, n, stop)
	}
}
