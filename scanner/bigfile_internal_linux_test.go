package scanner

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/merkle"
)

// openStat opens p for reading, as the scanner does, and fstats it.
func openStat(t *testing.T, p string) (int, *unix.Stat_t) {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat %s: %v", p, err)
	}
	return fd, &st
}

// parallelSum hashes the file at p with readUnits: units of 2^uh chunks,
// helpers goroutines besides the caller.
func parallelSum(t *testing.T, p string, uh, helpers int, direct bool) [32]byte {
	t.Helper()
	fd, st := openStat(t, p)
	h := newHasher(&Options{})
	if direct {
		// As hashFile does; a filesystem without O_DIRECT reads through
		// the page cache.
		h.direct = setDirect(fd, true) == nil
	}
	wasDirect := h.direct
	n, err := h.readUnits(t.Context(), fd, p, st, uh, upTo(helpers))
	if err != nil || n != st.Size || h.big == nil {
		t.Fatalf("readUnits(%s, %d bytes, unit 2^%d chunks, %d helpers) = %d, %v, hash set %v; want %d, nil, true",
			p, st.Size, uh, helpers, n, err, h.big != nil, st.Size)
	}
	if wasDirect && !h.direct {
		t.Errorf("readUnits(%s, %d bytes, unit 2^%d chunks) dropped O_DIRECT: a read was not block aligned", p, st.Size, uh)
	}
	return *h.big
}

// upTo recruits n helpers, at the first units.
func upTo(n int) func() bool {
	return func() bool {
		n--
		return n >= 0
	}
}

// vectors returns the lengths and hashes of testdata/blake3_vectors.txt.
func vectors(t *testing.T) map[int]string {
	t.Helper()
	f, err := os.Open("testdata/blake3_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		n, h, _ := strings.Cut(line, " ")
		k, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("testdata/blake3_vectors.txt: %q: %v", line, err)
		}
		v[k] = h
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(v) < 30 {
		t.Fatalf("testdata/blake3_vectors.txt holds %d vectors, want the 36 written", len(v))
	}
	return v
}

// TestBigVectors: BLAKE3's official test vector inputs hash to the official
// hashes when split into units of 16, 32 and 64 chunks (so that units, the
// end's small subtrees and the last chunk all meet at every boundary the
// vectors probe) or the production 1 MiB, on 0 to 3 helpers, through the
// page cache or O_DIRECT.
func TestBigVectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for n, want := range vectors(t) {
		p := filepath.Join(dir, strconv.Itoa(n))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, uh := range []int{4, 5, 6, 10} {
			for helpers := range 4 {
				direct := helpers%2 == 1
				if got := parallelSum(t, p, uh, helpers, direct); hex.EncodeToString(got[:]) != want {
					t.Errorf("input of %d bytes, units of 2^%d chunks, %d helpers, O_DIRECT %v: hash %x, want %s",
						n, uh, helpers, direct, got, want)
				}
			}
		}
	}
}

// randomFile writes n bytes from a seeded generator to dir/name.
func randomFile(t *testing.T, dir, name string, n int64, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	if _, err := w.ReadFrom(&limited{r, n}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return p
}

type limited struct {
	r *rand.ChaCha8
	n int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), l.n)]
	l.r.Read(p)
	l.n -= int64(len(p))
	return len(p), nil
}

// b3sum returns b3sum's hash of the file at p, or "" when b3sum is not
// installed (.ci/run installs it).
func b3sum(t *testing.T, p string) string {
	t.Helper()
	if _, err := exec.LookPath("b3sum"); err != nil {
		return ""
	}
	out, err := exec.Command("b3sum", "--no-names", p).Output()
	if err != nil {
		t.Fatalf("b3sum %s: %v", p, err)
	}
	return strings.TrimSpace(string(out))
}

// TestBigDifferential: random files of odd sizes hash alike in parallel
// (production units and small ones), with github.com/zeebo/blake3 and with
// b3sum.
func TestBigDifferential(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sizes := []int64{0, 1, 1023, 1024, 1025, 16<<10 - 1, 16 << 10, 16<<10 + 1, 48<<10 + 1023,
		1<<20 - 1, 1 << 20, 1<<20 + 1, 8<<20 + 3, 100 << 20}
	if _, err := exec.LookPath("b3sum"); err != nil && os.Getenv("CI") != "" {
		t.Fatal("b3sum is not installed: .ci/run installs it")
	}
	for i, n := range sizes {
		p := randomFile(t, dir, fmt.Sprint(n), n, uint64(i))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := blake3.Sum256(data)
		if ref := b3sum(t, p); ref != "" && ref != hex.EncodeToString(want[:]) {
			t.Fatalf("%d bytes: b3sum %s, zeebo/blake3 %x", n, ref, want)
		}
		for _, uh := range []int{4, 7, unitHeight(n)} {
			if got := parallelSum(t, p, uh, 1, false); got != want {
				t.Errorf("%d bytes, units of 2^%d chunks: parallel hash %x, want %x", n, uh, got, want)
			}
		}
	}
}

// TestBigSparse: sparse files (holes first, last, between data that is not
// block aligned, and only holes) hash alike read in parallel, through the
// page cache or O_DIRECT, as read whole; holes are not read.
func TestBigSparse(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	dir := t.TempDir()
	tests := []struct {
		name string
		size int64
		at   map[int64]int
	}{
		{"only a hole", 9*mib + 3, nil},
		{"hole first", 8 * mib, map[int64]int{5*mib + 17: 9}},
		{"hole last", 8*mib + 1, map[int64]int{0: 4}},
		{"holes between", 32 * mib, map[int64]int{0: 1, 3*mib - 1: 70000, 20 * mib: 1, 32*mib - 1: 1}},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, tt.name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.NewChaCha8([32]byte{byte(i)})
		for off, n := range tt.at {
			b := make([]byte, n)
			r.Read(b)
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}
		if err := errors.Join(f.Truncate(tt.size), f.Close()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := blake3.Sum256(data)
		for _, direct := range []bool{false, true} {
			for _, uh := range []int{6, 10} {
				if got := parallelSum(t, p, uh, 2, direct); got != want {
					t.Errorf("%s (%d bytes), units of 2^%d chunks, O_DIRECT %v: hash %x, want %x",
						tt.name, tt.size, uh, direct, got, want)
				}
			}
		}
	}
}

// TestBigTakesHelpers: the scanner's per-file path hashes a file of bigMin
// bytes on several cores when a core is idle, serially when as many files
// as CPUs are being read already or the host has no idle CPU, to the same
// hash, and gives the helpers back. Not parallel: it counts the files this
// process reads and sets systemIdle.
func TestBigTakesHelpers(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 {
		t.Skipf("GOMAXPROCS is %d: no core for a helper", procs)
	}
	hostIdle := true
	systemIdle = func() bool { return hostIdle }
	t.Cleanup(func() { systemIdle = cpuIdle })
	p := randomFile(t, t.TempDir(), "big", bigMin+3, 7)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := blake3.Sum256(data)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		busy     int // other files being read
		hostIdle bool
	}{{0, true}, {procs - 1, true}, {0, false}} {
		busy := c.busy
		hostIdle = c.hostIdle
		reading.Add(int64(busy))
		var e merkle.Entry
		fillStat(&e, &st, 0)
		e.Path, e.Attrs = p, merkle.AttrAll
		h := newHasher(&Options{})
		j := &job{e: &e, hash: true, done: make(chan struct{})}
		h.do(t.Context(), j)
		reading.Add(-int64(busy))
		if j.err != nil || e.HashState != merkle.HashOK || e.Hash != want {
			t.Fatalf("do(%s) with %d other files being read = %v, state %v, hash %x; want nil, ok, %x", p, busy, j.err, e.HashState, e.Hash, want)
		}
		if parallel, want := h.big != nil, busy == 0 && hostIdle; parallel != want {
			t.Errorf("a file of %d bytes with %d other files being read on %d CPUs, host idle %v: read on several cores %v, want %v",
				len(data), busy, procs, hostIdle, parallel, want)
		}
		if n, r := len(bigHelpers), reading.Load(); n != 0 || r != 0 {
			t.Errorf("after the file was hashed: %d helper tokens held, %d files counted as being read; want 0, 0", n, r)
		}
	}
}

// TestRunnable: the runnable threads are read from /proc/loadavg's text,
// and this host's file parses.
func TestRunnable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"0.50 0.40 0.30 2/180 12345\n": 2, "8.01 9.43 6.67 15/175 9795": 15, "": -1, "1 2 3 x/5 6": -1} {
		n, ok := runnable(in)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("runnable(%q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := runnable(string(b)); !ok || n < 1 {
		t.Errorf("runnable(/proc/loadavg %q) = %d, %v; want at least this thread", b, n, ok)
	}
}

// TestStallShare: "some avg10" is read from /proc/pressure/cpu's text, and
// this host's file, where there is one, parses.
func TestStallShare(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{
		"some avg10=1.07 avg60=7.24 avg300=45.59 total=11895641131\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n": 1.07,
		"full avg10=3.00 avg60=0 avg300=0 total=0\nsome avg10=42.50 avg60=0 avg300=0 total=0":                         42.5,
		"": -1, "some avg60=1.00": -1, "some avg10=x": -1,
	} {
		v, ok := stallShare(in)
		if !ok {
			v = -1
		}
		if v != want {
			t.Errorf("stallShare(%q) = %v, %v; want %v", in, v, ok, want)
		}
	}
	b, err := os.ReadFile("/proc/pressure/cpu")
	if errors.Is(err, os.ErrNotExist) {
		return // no PSI in this kernel: cpuIdle reads /proc/loadavg
	}
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := stallShare(string(b)); !ok || v < 0 || v > 100 {
		t.Errorf("stallShare(/proc/pressure/cpu %q) = %v, %v; want a share in percent", b, v, ok)
	}
}

// TestBigStops: a parallel read stops at the next chunk when the scan is
// cancelled (the context's error), when a fault is injected (that error),
// and after restatChunks chunks when the file keeps changing (no error, a
// count short of the size: the caller reads it again), never hashing on.
func TestBigStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "huge")
	if err := os.WriteFile(p, []byte("head"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 1<<40); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected")
	tests := []struct {
		name   string
		fault  func(cancel func(), calls int32) error
		err    error
		maxRun int32 // gate calls at most
	}{
		{"cancelled", func(cancel func(), _ int32) error { cancel(); return nil }, context.Canceled, 1},
		{"fault", func(func(), int32) error { return injected }, injected, 1},
		{"changing", func(_ func(), calls int32) error {
			when := time.Unix(int64(calls), 0)
			return os.Chtimes(p, when, when)
		}, nil, restatChunks - 1},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(t.Context())
		var calls atomic.Int32
		h := newHasher(&Options{Fault: func(op, path string) error {
			if op != "read" || path != p {
				return nil
			}
			return tt.fault(cancel, calls.Add(1))
		}})
		fd, st := openStat(t, p)
		n, err := h.readUnits(ctx, fd, p, st, unitHeight(st.Size), upTo(3))
		cancel()
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) || n >= st.Size || h.big != nil {
			t.Errorf("%s: readUnits = %d, %v, hash set %v; want fewer than %d bytes, %v, no hash", tt.name, n, err, h.big != nil, st.Size, tt.err)
		}
		if c := calls.Load(); c > tt.maxRun {
			t.Errorf("%s: %d chunks begun, want at most %d", tt.name, c, tt.maxRun)
		}
	}
}

// TestBigShort: a file shorter than the fstat the read was given (it was
// truncated in between) is not hashed: the count is short of that size and
// no hash is set, so the caller reads it again.
func TestBigShort(t *testing.T) {
	t.Parallel()
	p := randomFile(t, t.TempDir(), "f", 3<<20+5, 3)
	fd, st := openStat(t, p)
	st.Size += 1 << 20
	st.Blocks = st.Size/512 + 8 // not sparse: read, not sought (a hole past the end reads as zeros, and the caller's fstat sees the size)
	h := newHasher(&Options{})
	n, err := h.readUnits(t.Context(), fd, p, st, 10, upTo(1))
	if err != nil || n >= st.Size || h.big != nil {
		t.Errorf("readUnits of a file %d bytes shorter than its fstat = %d, %v, hash set %v; want fewer than %d bytes, nil, no hash",
			1<<20, n, err, h.big != nil, st.Size)
	}
}

// FuzzBigTree: any content, split into units of 16 to 128 chunks and read
// on 1 to 4 goroutines, hashes as github.com/zeebo/blake3 hashes it whole.
func FuzzBigTree(f *testing.F) {
	f.Add([]byte("abc"), uint8(0), uint8(0))
	f.Add(make([]byte, 16<<10+1), uint8(0), uint8(1))
	f.Add(make([]byte, 48<<10), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, uh, helpers uint8) {
		if len(data) > 1<<20 {
			return
		}
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		u, k := 4+int(uh%4), int(helpers%4)
		if got, want := parallelSum(t, p, u, k, false), blake3.Sum256(data); got != want {
			t.Errorf("%d bytes in units of 2^%d chunks on %d helpers: hash %x, want %x", len(data), u, k, got, want)
		}
	})
}
