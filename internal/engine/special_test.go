//go:build linux

package engine_test

import (
	"encoding/hex"
	"errors"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
)

// watchOpens starts an inotify watch for opens of each path; the returned
// function reports the paths opened since.
func watchOpens(t *testing.T, paths ...string) func() []string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	byWatch := map[int32]string{}
	for _, p := range paths {
		wd, err := unix.InotifyAddWatch(fd, p, unix.IN_OPEN)
		if err != nil {
			t.Fatalf("inotify_add_watch(%s): %v", p, err)
		}
		byWatch[int32(wd)] = p
	}
	return func() []string {
		var opened []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) {
				return opened
			}
			if err != nil {
				t.Fatalf("reading inotify events: %v", err)
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&unix.IN_OPEN != 0 {
					opened = append(opened, byWatch[ev.Wd])
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// TestSpecialFiles: FIFOs, device nodes, sockets and symlink loops are
// recorded with their type, never opened, and do not stop or hang a scan.
func TestSpecialFiles(t *testing.T) {
	fimtest.NeedRoot(t, "mknod")
	t.Parallel()
	f := newFixture(t, fimtest.Tree{
		"fifo":   fimtest.FIFO(),
		"null":   fimtest.CharDev(1, 3),
		"sock":   fimtest.Socket(),
		"loop/a": fimtest.Symlink("b"),
		"loop/b": fimtest.Symlink("a"),
		"self":   fimtest.Symlink("self"),
		"file":   fimtest.File("x"),
	})
	opened := watchOpens(t, f.path("fifo"), f.path("null"))
	f.init(t)

	want := map[string]merkle.Type{
		".": merkle.TypeDir, "fifo": merkle.TypeFIFO, "null": merkle.TypeCharDev, "sock": merkle.TypeSocket,
		"loop": merkle.TypeDir, "loop/a": merkle.TypeSymlink, "loop/b": merkle.TypeSymlink,
		"self": merkle.TypeSymlink, "file": merkle.TypeFile,
	}
	for rel, typ := range want {
		e := f.entry(t, rel)
		switch {
		case e == nil:
			t.Errorf("%s: not recorded", rel)
		case e.Type != typ || e.Err != "":
			t.Errorf("%s: recorded type %v (error %q), want %v and no error", rel, e.Type, e.Err, typ)
		}
	}
	if e := f.entry(t, "null"); e != nil && e.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null: recorded rdev %#x, want %#x", e.Rdev, unix.Mkdev(1, 3))
	}
	if e := f.entry(t, "loop/a"); e != nil && e.Target != "b" {
		t.Errorf("loop/a: recorded target %q, want %q", e.Target, "b")
	}

	got, errs, _ := f.check(t, f.opts())
	if len(got) != 0 || len(errs) != 0 {
		t.Errorf("Check reported %v, errors %v; want nothing", got, errs)
	}
	if o := opened(); len(o) != 0 {
		t.Errorf("Init and Check opened %q, want no special file opened", o)
	}
	// Nobody holds the FIFO open for reading: opening it for writing
	// without blocking fails.
	fd, err := unix.Open(f.path("fifo"), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	if !errors.Is(err, unix.ENXIO) {
		t.Errorf("open(fifo, O_WRONLY|O_NONBLOCK) after the scans: %v, want ENXIO (no reader)", err)
	}
}

// TestHostileNames: names holding a newline, invalid UTF-8 or terminal
// escapes are recorded and reported with their exact bytes.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	names := []string{"new\nline", "bad\xffname", "esc\x1b[2J", "dir\xfe/in\nside"}
	tree := fimtest.Tree{}
	for _, n := range names {
		tree[n] = fimtest.File(n)
	}
	f := newFixture(t, fimtest.Tree{"plain": fimtest.File("p")})
	f.init(t)
	tree.Make(t, f.root)

	got, errs, _ := f.check(t, f.opts())
	want := []change{
		ch(modified, ".", timesDir),
		ch(created, "bad\xffname", noChanges), ch(created, "dir\xfe", noChanges), ch(created, "dir\xfe/in\nside", noChanges),
		ch(created, "esc\x1b[2J", noChanges), ch(created, "new\nline", noChanges),
	}
	if diff := cmp.Diff(sortChanges(want), sortChanges(got)); diff != "" || len(errs) != 0 {
		t.Errorf("Check reported (-want +got):\n%s\nerrors: %v", diff, errs)
	}
	f.update(t, f.opts())
	for _, n := range names {
		e := f.entry(t, n)
		if e == nil || e.HashState != merkle.HashOK || e.Hash != blake3.Sum256([]byte(n)) {
			t.Errorf("%q: recorded %+v, want a file hashed to BLAKE3(%q)", n, e, n)
		}
	}
	if got, errs, _ := f.check(t, f.opts()); len(got) != 0 || len(errs) != 0 {
		t.Errorf("Check after Update reported %v, errors %v; want nothing", got, errs)
	}
}

// zeros2GiB is the BLAKE3-256 of 2 GiB of zero bytes, as zeebo/blake3
// (streaming 1 MiB writes) and b3sum 1.x (of a sparse file) both compute it.
const zeros2GiB = "cbd71ef31685ea2c6ce0c146ef1d160b4d458f29cea2a61536a8a65f195fdb82"

// TestSparseFile: a 2 GiB sparse file is hashed as 2 GiB of zeros, and an
// unchanged check takes its hash from the stat cache.
func TestSparseFile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("reads 2 GiB")
	}
	const size = 2 << 30
	f := newFixture(t, fimtest.Tree{"big": fimtest.Sparse(size)})
	fimtest.SleepPastRacy()

	o, st := f.statsOpts()
	if _, errs, _ := f.op(t, "Init", engine.Init, o); len(errs) != 0 {
		t.Fatalf("Init reported errors %v", errs)
	}
	if st.Hashed.Load() != 1 || st.Bytes.Load() != size {
		t.Errorf("Init hashed %d files, %d bytes; want 1 file, %d bytes", st.Hashed.Load(), st.Bytes.Load(), int64(size))
	}
	e := f.entry(t, "big")
	if e == nil || e.HashState != merkle.HashOK || hex.EncodeToString(e.Hash[:]) != zeros2GiB || e.Size != size {
		t.Errorf("big: recorded %+v, want size %d, hash %s", e, int64(size), zeros2GiB)
	}

	o, st = f.statsOpts()
	got, errs, _ := f.check(t, o)
	if len(got) != 0 || len(errs) != 0 {
		t.Errorf("Check reported %v, errors %v; want nothing", got, errs)
	}
	if st.Hashed.Load() != 0 || st.CacheHits.Load() != 1 {
		t.Errorf("unchanged Check hashed %d files with %d cache hits, want 0 and 1", st.Hashed.Load(), st.CacheHits.Load())
	}
}
