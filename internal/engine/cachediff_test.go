//go:build linux

package engine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
)

// TestCheckEqualsFull is the differential test of the stat cache: over
// random sets of mutations of every kind (the Btrfs test's mutator, plus
// changes to directories' inode flags, extended attributes and modes, and
// a file made again at its inode number with its times put back), a check
// that trusts the stat cache, with the keyed sample on, reports exactly
// what check --full reports; after an update neither reports anything.
func TestCheckEqualsFull(t *testing.T) {
	fimtest.NeedRoot(t, "chown, chattr and inode flags of directories")
	f := newFixture(t, fimtest.Tree{})
	m := &mutator{t: t, rng: rand.New(rand.NewPCG(testSeed(7), 23)), root: f.root, noSubvol: true}
	for range 5 {
		m.create()
	}
	fimtest.Age(t, f.root, fimtest.Past)
	fimtest.SleepPastRacy()
	f.init(t)
	key := [32]byte{23}
	var dirHits, fileHits int64
	for round := range fimtest.Rounds(16, 60) {
		m.done = nil
		for range 1 + m.rng.IntN(5) {
			if m.rng.IntN(3) == 0 {
				dirMutation(m)
			} else {
				m.one()
			}
		}
		what := fmt.Sprintf("round %d (%s)", round, strings.Join(m.done, "; "))
		o, st := f.statsOpts()
		o.SampleKey, o.SampleCheck = &key, uint64(round)
		cached, _, _ := f.check(t, o)
		dirHits, fileHits = dirHits+st.DirCacheHits.Load(), fileHits+st.CacheHits.Load()
		o = f.opts()
		o.Full = true
		full, _, _ := f.check(t, o)
		if got, want := sortChanges(cached), sortChanges(full); !slices.EqualFunc(got, want, sameChange) {
			t.Fatalf("%s:\ncheck reported   %v\ncheck --full: %v", what, got, want)
		}
		t.Logf("%s: %d changes", what, len(full))
		if round%3 == 2 {
			// Let the clock pass the racy window, so that the next
			// rounds' checks trust the records the update writes.
			fimtest.SleepPastRacy()
			f.update(t, f.opts())
			if rest, _, _ := f.check(t, f.opts()); len(rest) != 0 {
				t.Fatalf("%s: after the update: %v", what, rest)
			}
		}
	}
	t.Logf("stat cache hits: %d directories, %d files", dirHits, fileHits)
	if dirHits == 0 || fileHits == 0 {
		t.Errorf("the checks took %d directories and %d files from the stat cache: the test compared nothing", dirHits, fileHits)
	}
}

func sameChange(a, b change) bool {
	return a.Action == b.Action && a.Path == b.Path && a.From == b.From && slices.Equal(a.Changed, b.Changed)
}

// dirMutation changes a random directory's own metadata, or makes a file
// again at its inode number with its content changed and its times put
// back, and says which.
func dirMutation(m *mutator) {
	t := m.t
	files, dirs := m.files()
	if len(dirs) == 0 || len(files) == 0 {
		m.create()
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d := m.pick(dirs)
	var what string
	switch m.rng.IntN(5) {
	case 0:
		what = "dir xattr " + d
		must(unix.Lsetxattr(d, "user.vigil", []byte(fmt.Sprint(m.rng.Int())), 0))
	case 1:
		what = "dir chattr " + d
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		must(err)
		defer unix.Close(fd)
		flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		must(err)
		must(unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags^0x40))) // FS_NODUMP_FL
	case 2:
		what = "dir chmod " + d
		must(os.Chmod(d, os.FileMode(0o700|m.rng.IntN(0o100))))
	case 3:
		what = "dir xattr removed " + d
		if err := unix.Lremovexattr(d, "user.vigil"); err != nil {
			what += " (had none)"
		}
	case 4:
		// Deleted and made again: ext4 gives the inode number back; the
		// times are put back (ctime is not: the generation is the test).
		f := m.pick(files)
		st, err := os.Lstat(f)
		must(err)
		b, err := os.ReadFile(f)
		must(err)
		b = append(b, 'x')
		must(os.Remove(f))
		must(os.WriteFile(f, b[1:], 0o644))
		must(os.Chtimes(f, st.ModTime(), st.ModTime()))
		what = "made again " + f
		if st2, err := os.Lstat(filepath.Clean(f)); err == nil && os.SameFile(st, st2) {
			what += " (same inode number)"
		}
	}
	m.done = append(m.done, what)
}
