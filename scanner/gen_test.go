//go:build linux

package scanner_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// record makes a stat cache from a scan's entries.
func record(res result) scanner.MemCache {
	r := scanner.MemCache{}
	for _, p := range res.order {
		e := *res.entries[p]
		e.HashedAt = max(e.Mtime, e.Ctime) + 2e9 // hashed well after its last change
		d := merkle.Parent(e.Path)
		r[d] = append(r[d], e)
	}
	return r
}

// TestCacheInodeReuse: on ext4, a file deleted and created again reuses the
// inode number; with its size, mtime and ctime set back to the recorded
// ones (the ctime by setting the clock back, here by changing the record
// instead), only the inode's birth time and generation tell the stat cache
// it is another file, which must then be read: by the birth time where the
// baseline recorded one, else (a baseline of an older vigil) by the
// generation.
func TestCacheInodeReuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		btime bool
	}{{"birth time", true}, {"generation only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cacheInodeReuse(t, tc.btime)
		})
	}
}

func cacheInodeReuse(t *testing.T, btime bool) {
	mnt := fimtest.LoopFS(t, "ext4", 64<<20, "")
	root := filepath.Join(mnt, "tree")
	must(t, os.Mkdir(root, 0o755))
	fimtest.Tree{"f": fimtest.File("original"), "keep": fimtest.File("unchanged")}.Make(t, root)
	first := scan(t, root, scanner.Options{})
	old := first.entries["f"]
	if old.HasGen || old.Btime == 0 {
		t.Fatalf("scan on ext4: %s has generation %v, birth time %d; want a birth time only", old.Path, old.HasGen, old.Btime)
	}
	cache := record(first)
	if !btime { // as an older vigil recorded it
		for _, es := range cache {
			for i := range es {
				es[i].Btime = 0
				es[i].Gen, es[i].HasGen = generation(t, es[i].Path), true
			}
		}
		old.Gen = generation(t, old.Path)
	}

	p := filepath.Join(root, "f")
	must(t, os.Remove(p))
	must(t, os.WriteFile(p, []byte("tampered"), 0o644)) // same size
	must(t, os.Chtimes(p, fimtest.Past, fimtest.Past))
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	if st.Ino != old.Inode {
		t.Fatalf("the new %s has inode %d, want the reused %d", p, st.Ino, old.Inode)
	}
	// The attacker sets the clock back to the recorded ctime around the
	// change; the record standing in for that has the new ctime.
	for i, e := range cache[root] {
		if e.Path == p {
			cache[root][i].Ctime = st.Ctim.Nano()
			cache[root][i].HashedAt = st.Ctim.Nano() + 2e9
		}
	}

	res := scan(t, root, scanner.Options{Cache: cache})
	e := res.entries["f"]
	if want := blake3.Sum256([]byte("tampered")); e.HashState != merkle.HashOK || e.Hash != want {
		t.Errorf("scan with the stat cache after inode reuse: f hash %x (%v), want %x (the file read again)", e.Hash, e.HashState, want)
	}
	if g := generation(t, p); g == old.Gen || e.Btime == old.Btime {
		t.Errorf("the reused inode's generation %d and birth time %d; the old one's %d and %d", g, e.Btime, old.Gen, old.Btime)
	}
	if hits := res.stats.CacheHits.Load(); hits != 1 {
		t.Errorf("cache hits %d, want 1 (keep, untouched)", hits)
	}
}

// generation returns path's inode generation (FS_IOC_GETVERSION).
func generation(t *testing.T, path string) uint64 {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(fd)
	g, err := unix.IoctlGetUint32(fd, 0x80087601) // FS_IOC_GETVERSION on 64-bit Linux
	must(t, err)
	return uint64(g)
}
