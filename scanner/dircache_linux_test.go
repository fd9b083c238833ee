//go:build linux

package scanner_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// TestCacheDirMeta: a directory's inode flags and extended attributes are
// taken from its record only when inode, generation, size, mtime and ctime
// match, the record is not racy and the keyed sample does not pick the
// directory; otherwise they are read. The record here says what the
// directory does not hold (as after a change with its ctime set back), so
// what the scan reports shows which it used.
func TestCacheDirMeta(t *testing.T) {
	t.Parallel()
	mnt := fimtest.LoopFS(t, "ext4", 64<<20, "")
	root := filepath.Join(mnt, "tree")
	must(t, os.Mkdir(root, 0o755))
	fimtest.Tree{"d/f": fimtest.File("x")}.Make(t, root)
	d := filepath.Join(root, "d")
	must(t, unix.Lsetxattr(d, "user.a", []byte("real"), 0))
	first := scan(t, root, scanner.Options{})
	if e := first.entries["d"]; !e.HasGen || len(e.Xattrs) != 1 {
		t.Fatalf("first scan of d: HasGen %v, xattrs %v; want a generation and user.a", e.HasGen, e.Xattrs)
	}
	tests := []struct {
		name   string
		forge  func(e *merkle.Entry)
		sample *scanner.Sample
		cached bool // the record's xattrs are reported
	}{
		{name: "unchanged", cached: true},
		{name: "other generation", forge: func(e *merkle.Entry) { e.Gen++ }},
		{name: "no generation recorded", forge: func(e *merkle.Entry) { e.HasGen = false }},
		{name: "other mtime", forge: func(e *merkle.Entry) { e.Mtime-- }},
		{name: "other ctime", forge: func(e *merkle.Entry) { e.Ctime-- }},
		{name: "other inode", forge: func(e *merkle.Entry) { e.Inode++ }},
		{name: "racy", forge: func(e *merkle.Entry) { e.HashedAt = e.Ctime + 5e8 }},
		{name: "with an error", forge: func(e *merkle.Entry) { e.Err = "xattrs: EIO" }},
		{name: "sampled", sample: &scanner.Sample{Key: [32]byte{1}, Check: 1, Within: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := record(first)
			for i := range cache[root] {
				if e := &cache[root][i]; e.Path == d {
					e.Xattrs = []merkle.Xattr{{Name: "user.a", Value: []byte("recorded")}}
					if tt.forge != nil {
						tt.forge(e)
					}
				}
			}
			res := scan(t, root, scanner.Options{Cache: cache, Sample: tt.sample})
			want, hits := "real", int64(0)
			if tt.cached {
				want, hits = "recorded", 1
			}
			x := res.entries["d"].Xattrs
			if len(x) != 1 || string(x[0].Value) != want {
				t.Errorf("d's xattrs %v, want user.a=%s", x, want)
			}
			if got := res.stats.DirCacheHits.Load(); got != hits {
				t.Errorf("directory cache hits %d, want %d", got, hits)
			}
			if e := res.entries["d"]; !e.HasGen || e.Gen != first.entries["d"].Gen {
				t.Errorf("d's generation %d (%v), want the first scan's %d", e.Gen, e.HasGen, first.entries["d"].Gen)
			}
		})
	}
}
