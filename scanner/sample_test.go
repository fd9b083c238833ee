//go:build linux

package scanner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// TestSampleDue: over consecutive checks, each file is due at least once in
// any Within consecutive checks, each check takes about 1/L of the files
// (L = (Within+1)/2), and another key chooses other files.
func TestSampleDue(t *testing.T) {
	t.Parallel()
	const files = 2000
	entries := make([]merkle.Entry, files)
	for i := range entries {
		entries[i] = merkle.Entry{Path: fmt.Sprintf("/etc/f%d", i), Dev: 1, Inode: uint64(100 + i)}
	}
	for _, within := range []int{1, 2, 3, 10, 31} {
		t.Run(fmt.Sprint(within), func(t *testing.T) {
			s := scanner.Sample{Key: [32]byte{1, 2, 3}, Within: within}
			last := make([]int, files) // check of the last read, -1 none yet
			for i := range last {
				last[i] = -1
			}
			l := (within + 1) / 2
			for c := range 4 * within {
				s.Check = uint64(c)
				n := 0
				for i := range entries {
					if !s.Due(&entries[i]) {
						continue
					}
					n++
					last[i] = c
				}
				for i, at := range last {
					if c-at >= within {
						t.Fatalf("Within %d: %s not read in checks %d to %d", within, entries[i].Path, at+1, c)
					}
				}
				if want := files / l; n < want*3/4 || n > want*5/4 {
					t.Errorf("Within %d, check %d: %d of %d files due, want about %d", within, c, n, files, want)
				}
			}
		})
	}
	a := scanner.Sample{Key: [32]byte{1}, Within: 30, Check: 7}
	b := a
	b.Key[0] = 2
	same := 0
	for i := range entries {
		if a.Due(&entries[i]) && b.Due(&entries[i]) {
			same++
		}
	}
	if same > files/15/10 {
		t.Errorf("two keys chose %d of the same files at one check, want about %d", same, files/15/15)
	}
}

// TestScanSample: with a stat cache that matches every file but records
// wrong hashes (content changed with size and times restored), scans with a
// Sample read every file again within Within consecutive checks.
func TestScanSample(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tr := fimtest.Tree{}
	for i := range 40 {
		tr[fmt.Sprintf("d/f%02d", i)] = fimtest.File(fmt.Sprint("content ", i))
	}
	tr.Make(t, root)
	cache := record(scan(t, root, scanner.Options{}))
	for _, es := range cache {
		for i := range es {
			es[i].Hash = merkle.Hash{0xba, 0xd} // what the intruder's change left recorded
		}
	}
	const within = 5
	found := map[string]bool{}
	var sampled int64
	for c := range within {
		s := &scanner.Sample{Key: [32]byte{9}, Check: uint64(100 + c), Within: within}
		res := scan(t, root, scanner.Options{Cache: cache, Sample: s})
		for p, e := range res.entries {
			if e.Type == merkle.TypeFile && e.Hash != (merkle.Hash{0xba, 0xd}) {
				found[p] = true
			}
		}
		sampled += res.stats.Sampled.Load()
	}
	if len(found) != len(tr) {
		t.Errorf("after %d checks with Within %d, %d of %d files read again, want all", within, within, len(found), len(tr))
	}
	if sampled > int64(len(tr)*2) {
		t.Errorf("%d files read again in %d checks, want at most %d", sampled, within, len(tr)*2)
	}
}

// TestScanUncached: after a write to the block device under a file (its
// cached pages are now stale), an Uncached scan reads what the disk holds,
// also while the file is mapped (as a shared library is), which
// POSIX_FADV_DONTNEED alone would not get past.
func TestScanUncached(t *testing.T) {
	t.Parallel()
	for _, mapped := range []bool{false, true} {
		t.Run(fmt.Sprint("mapped=", mapped), func(t *testing.T) {
			t.Parallel()
			mnt := fimtest.LoopFS(t, "ext4", 64<<20, "")
			p := filepath.Join(mnt, "f")
			old, tampered := strings.Repeat("A", 4096), strings.Repeat("B", 4096)
			must(t, os.WriteFile(p, []byte(old), 0o644))
			var fs unix.Statfs_t
			must(t, unix.Statfs(mnt, &fs))
			dev := fimtest.LoopDevice(t, mnt)
			unix.Sync()
			block := fimtest.Command(t, "debugfs", "-R", "bmap /f 0", dev)
			var blk int64
			if _, err := fmt.Sscan(block, &blk); err != nil || blk == 0 {
				t.Fatalf("debugfs bmap /f 0 = %q (%v), want a block number", block, err)
			}
			if mapped {
				m := mapFile(t, p)
				if string(m[:4]) != "AAAA" { // fault the page in
					t.Fatalf("mapped %s reads %q", p, m[:4])
				}
			} else if _, err := os.ReadFile(p); err != nil { // the old content is now cached
				t.Fatal(err)
			}
			rawWrite(t, dev, blk*int64(fs.Bsize), []byte(tampered))

			cached := scan(t, mnt, scanner.Options{}).entries["f"]
			if cached.Hash != blake3.Sum256([]byte(old)) {
				t.Fatalf("the raw write reached the page cache; the test shows nothing")
			}
			e := scan(t, mnt, scanner.Options{Uncached: true}).entries["f"]
			if want := blake3.Sum256([]byte(tampered)); e.HashState != merkle.HashOK || e.Hash != want {
				t.Errorf("Uncached scan after a raw block write: hash %x (%v), want %x (what the disk holds)", e.Hash, e.HashState, want)
			}
		})
	}
}

// mapFile maps the file at p shared and read-only until t ends.
func mapFile(t *testing.T, p string) []byte {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { must(t, unix.Munmap(m)) })
	return m
}

// rawWrite writes data at offset off of the block device dev, bypassing
// its page cache.
func rawWrite(t *testing.T, dev string, off int64, data []byte) {
	t.Helper()
	fd, err := unix.Open(dev, unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, len(data), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	copy(buf, data)
	if _, err := unix.Pwrite(fd, buf, off); err != nil {
		t.Fatalf("pwrite %s at %d: %v", dev, off, err)
	}
	must(t, unix.Fsync(fd))
}

// TestSampleBack: a check standing for Back skipped ones reads exactly the
// files due at any of them and at its own number; from 2L-1 numbers on,
// every file.
func TestSampleBack(t *testing.T) {
	t.Parallel()
	entries := make([]merkle.Entry, 500)
	for i := range entries {
		entries[i] = merkle.Entry{Path: fmt.Sprintf("/usr/f%d", i), Dev: 2, Inode: uint64(7 + i)}
	}
	const within = 9 // L = 5
	for _, check := range []uint64{0, 3, 4, 5, 12, 1000} {
		for back := range uint64(12) {
			s := scanner.Sample{Key: [32]byte{4}, Check: check, Back: back, Within: within}
			n := 0
			for i := range entries {
				want := false
				for c := check - min(back, check); c <= check; c++ {
					one := scanner.Sample{Key: s.Key, Check: c, Within: within}
					want = want || one.Due(&entries[i])
				}
				got := s.Due(&entries[i])
				if got != want {
					t.Fatalf("Sample{Check: %d, Back: %d}.Due(%s) = %v, want %v (any of checks %d to %d)",
						check, back, entries[i].Path, got, want, check-min(back, check), check)
				}
				if got {
					n++
				}
			}
			if check >= back && back+1 >= 2*5-1 && n != len(entries) {
				t.Errorf("Sample{Check: %d, Back: %d}: %d of %d files due, want all", check, back, n, len(entries))
			}
		}
	}
}
