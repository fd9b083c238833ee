package scanner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDirNamesMapped: names past a chunk move to memory maps, which grow
// as names are added (several times here), keep every name and type, sort,
// and free.
func TestDirNamesMapped(t *testing.T) {
	const n = 300000 // 3.4 MB of names, 1.2 MB of offsets: both maps grow
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("n%x", uint32(i)*2654435761))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
	var names dirNames
	for i, w := range want {
		if err := names.add(uint8(len(w)), []byte(w)); err != nil {
			t.Fatalf("add(%q) of name %d: %v", w, i, err)
		}
		if got := names.mapped(); got != (i >= listChunk) {
			t.Fatalf("after %d names mapped() = %v, want %v", i+1, got, i >= listChunk)
		}
	}
	if len(names.mbuf) <= 1<<20 || len(names.moffs) <= 1<<20 {
		t.Errorf("maps of %d and %d bytes, want both grown past 1 MiB", len(names.mbuf), len(names.moffs))
	}
	names.sort()
	slices.Sort(want)
	if names.len() != n {
		t.Fatalf("len() = %d, want %d", names.len(), n)
	}
	for i, w := range want {
		if d := names.at(i); string(d.name) != w || d.typ != uint8(len(w)) {
			t.Fatalf("at(%d) = %q, type %d; want %q, type %d", i, d.name, d.typ, w, len(w))
		}
		// lstatAt passes the name where it lies: a NUL must end it there.
		if d := names.at(i); d.name[:len(d.name)+1][len(d.name)] != 0 {
			t.Fatalf("at(%d) = %q: no NUL after it", i, d.name)
		}
	}
	names.free()
	if names.mapped() || names.len() != 0 {
		t.Errorf("after free: mapped() = %v, len() = %d; want false, 0", names.mapped(), names.len())
	}
}

// TestLstatAt: lstatAt, given a name as readDir leaves it (a NUL after it
// in the buffer, more names beyond), stats that name without following a
// symlink, as unix.Fstatat does, and reports a missing one as ENOENT.
// TestLstatAt: lstatAt, a statx, gives what fstatat gives, field for
// field (device numbers too), and the birth time.
func TestLstatAt(t *testing.T) {
	dir := t.TempDir()
	before := time.Now().UnixNano()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("xyz"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "ab")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dir, "dev"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err) // never opened
	}
	after := time.Now().UnixNano()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var names dirNames
	for _, n := range []string{"ab", "a", "abc", "dev"} { // "a" lies between longer names
		if err := names.add(unix.DT_UNKNOWN, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	names.sort()
	for i, want := range []struct {
		name string
		mode uint32
		size int64
	}{{"a", unix.S_IFREG, 3}, {"ab", unix.S_IFLNK, 1}, {"abc", 0, 0}, {"dev", unix.S_IFCHR, 0}} {
		d := names.at(i)
		var st, ref unix.Stat_t
		btime, err := lstatAt(fd, d.name, &st)
		refErr := unix.Fstatat(fd, want.name, &ref, unix.AT_SYMLINK_NOFOLLOW)
		if string(d.name) != want.name || !errors.Is(err, refErr) && err != refErr {
			t.Fatalf("lstatAt(%q) = %v, unix.Fstatat(%q) = %v", d.name, err, want.name, refErr)
		}
		if want.mode == 0 {
			if !errors.Is(err, unix.ENOENT) {
				t.Errorf("lstatAt(%q) = %v, want ENOENT", d.name, err)
			}
			continue
		}
		if st.Mode&unix.S_IFMT != want.mode || st.Size != want.size {
			t.Errorf("lstatAt(%q): mode %o size %d; want type %o size %d", d.name, st.Mode, st.Size, want.mode, want.size)
		}
		if st != ref {
			t.Errorf("lstatAt(%q) = %+v\nunix.Fstatat gives %+v", d.name, st, ref)
		}
		// The temporary directory's filesystem (ext4 here) keeps birth
		// times; a coarse clock may stamp them a tick early.
		if btime < before-int64(time.Second) || btime > after {
			t.Errorf("lstatAt(%q): birth time %d, want one between %d and %d", d.name, btime, before, after)
		}
	}
}

// TestFstatx: fstatx gives what fstat gives, with the birth time, and
// allocates nothing (the keyed sample's rereads call it once a file).
func TestFstatx(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte("xyz"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st, ref unix.Stat_t
	btime, err := fstatx(fd, &st)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(fd, &ref); err != nil {
		t.Fatal(err)
	}
	var byPath unix.Stat_t
	lbtime, err := statxAt(unix.AT_FDCWD, f, unix.AT_SYMLINK_NOFOLLOW, &byPath)
	if err != nil || st != ref || btime == 0 || btime != lbtime {
		t.Errorf("fstatx = %+v, birth time %d\nfstat gives %+v; statx by path: birth time %d (%v)", st, btime, ref, lbtime, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = fstatx(fd, &st) }); n != 0 {
		t.Errorf("fstatx allocates %v times a call, want 0", n)
	}
}

// BenchmarkLstatAt compares what the stat cache pays per trusted file: the
// statx that gives the birth time with the lstat, against the fstatat and
// name_to_handle_at (for the generation) it replaces.
func BenchmarkLstatAt(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("content"), 0o644); err != nil {
		b.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	name := []byte("f\x00")
	var st unix.Stat_t
	b.Run("statx", func(b *testing.B) {
		for b.Loop() {
			if _, err := lstatAt(fd, name[:1], &st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fstatat", func(b *testing.B) {
		for b.Loop() {
			if err := unix.Fstatat(fd, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fstatat+handle", func(b *testing.B) {
		for b.Loop() {
			if err := unix.Fstatat(fd, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				b.Fatal(err)
			}
			if _, ok := handleGen(fd, "f", 0, st.Ino); !ok {
				b.Fatal("no generation from the handle")
			}
		}
	})
}
