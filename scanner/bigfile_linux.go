package scanner

import (
	"context"
	"errors"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Large files on every core. A regular file of at least bigMin bytes is
// split into units of BLAKE3's tree (b3tree.go) which the worker hashing it
// and helper goroutines read (pread) and hash side by side, each taking the
// next unit when done with one; the units' chaining values are merged in
// order at the end, so the hash is the file's BLAKE3-256 as b3sum and the
// serial path compute it. Everything the serial read does per chunk is done
// here too, in one order for all: the context, Pace, the restat every
// restatChunks chunks, the "read" fault; holes are found with SEEK_DATA and
// hashed as zeros without being read; O_DIRECT reads stay block aligned.
//
// Only idle cores are taken. lukechampine.com/blake3's AVX2 code costs
// about 40 % more CPU per byte than zeebo/blake3's here (2.2 against
// 3.1 GB/s of CPU time in memory on the CI machine's AMD EPYC: it loads
// message words with gathers; read from the page cache on two cores, a
// file costs 1.4 to 1.6 times the CPU of the serial read), so a file is read on several cores only when fewer files
// are being read in this process than there are CPUs for Go and the
// host's CPUs are not contended (pressure stall information, see
// cpuIdle), and the
// worker takes a helper at every unit while that holds; otherwise it is
// read by the serial path, as before: a scan that keeps every core busy
// with files of its own, or a host busy with its work, pays nothing for it.

// bigMin is the smallest file hashed on several cores. Measured
// (BenchmarkBigFile, CPU time, medians of 5 on the shared CI machine kind),
// parallel against serial: 3.2 against 1.9 ms at 4 MiB, 5.9 against 4.0 at
// 8 MiB, 50 against 34 at 64 MiB: the price is the same share from 4 MiB
// up, so on two idle cores half of it would beat the serial read at every
// size (1.2x at 4 MiB, 1.3x at 8 MiB: projected; measured idle, only 1 GiB
// and 4 GiB files, 1.46x); 8 MiB keeps the goroutines, the pressure reads
// and the second buffer for files of a few ms.
var bigMin int64 = 8 << 20

// reading counts the files being read in this process, serially or not;
// bigHelpers holds a token per helper goroutine running.
var (
	reading    atomic.Int64
	bigHelpers = make(chan struct{}, max(0, runtime.GOMAXPROCS(0)-1))
)

// readEnd is deferred by every read, which readBig counted in reading.
func readEnd() { reading.Add(-1) }

// idleHelper takes a helper token when a core is idle: fewer files being
// read and helpers running than GOMAXPROCS. It reports whether it took one.
func idleHelper() bool {
	if reading.Load()+int64(len(bigHelpers)) >= int64(runtime.GOMAXPROCS(0)) || !systemIdle() {
		return false
	}
	select {
	case bigHelpers <- struct{}{}:
		return true
	default:
		return false
	}
}

// systemIdle reports whether a CPU is idle on the host; a variable for
// tests, which cannot make a shared machine idle.
var systemIdle = cpuIdle

// cpuIdle reports whether the host has a CPU to spare, read at most every
// 10 ms: where the kernel has pressure stall information, whether tasks
// waited for a CPU less than 5 % of the last 10 s (/proc/pressure/cpu,
// "some avg10"); elsewhere whether fewer threads are runnable now than
// there are CPUs, the caller's included (the fourth field of
// /proc/loadavg, which also counts this process's own runtime threads).
func cpuIdle() bool {
	now := time.Now().UnixNano()
	if t := loadAt.Load(); now-t < 10e6 && now >= t {
		return loadIdle.Load()
	}
	idle := false
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		p, ok := stallShare(string(b))
		idle = ok && p < 5
	} else if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r, ok := runnable(string(b))
		idle = ok && r < runtime.NumCPU()
	}
	loadIdle.Store(idle)
	loadAt.Store(now)
	return idle
}

// stallShare returns "some avg10" from the text of /proc/pressure/cpu: the
// share of the last 10 s, in percent, in which some task waited for a CPU.
func stallShare(pressure string) (float64, bool) {
	for line := range strings.Lines(pressure) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "some" || !strings.HasPrefix(f[1], "avg10=") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimPrefix(f[1], "avg10="), 64)
		return v, err == nil
	}
	return 0, false
}

var (
	loadAt   atomic.Int64 // when loadIdle was read, in Unix ns
	loadIdle atomic.Bool
)

// runnable returns the threads runnable now from the text of /proc/loadavg
// ("0.50 0.40 0.30 2/180 12345").
func runnable(loadavg string) (int, bool) {
	f := strings.Fields(loadavg)
	if len(f) < 4 {
		return 0, false
	}
	r, _, ok := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(r)
	return n, ok && err == nil
}

// errShort stops a parallel read that found the file shorter than its
// fstat said; errStopped stops the others. Neither leaves the hasher.
var (
	errShort   = errors.New("file ended before its size")
	errStopped = errors.New("stopped")
)

// bigRead is one file read on several cores.
type bigRead struct {
	ctx    context.Context
	opts   *Options
	fd     int
	path   string
	st     *unix.Stat_t
	layout treeLayout
	piece  int64 // bytes read and hashed at a time: at most bufSize
	sparse bool

	next   atomic.Uint64 // the next unit to take; unit layout.units is the end
	hashed atomic.Int64  // bytes hashed, for the caller's comparison
	direct atomic.Bool   // reading with O_DIRECT

	cvs  [][8]uint32 // the full units' chaining values
	end  treeStack   // the end's subtrees
	tail [chunkLen]byte
	tlen int

	mu     sync.Mutex // orders the per-chunk gate and guards what follows
	chunks int
	err    error // the first failure; set, it stops every reader
}

// unitHeight is the log2 of the chunks per unit for a file of size bytes:
// 1 MiB units, larger for files above 8 GiB so that at most 8,192 chaining
// values are kept.
func unitHeight(size int64) int {
	return max(10, bits.Len64(uint64(size)>>(10+13)))
}

// readBig counts the read in reading (the caller defers readEnd) and reads
// and hashes the file on several cores when it is large and a core is
// idle; ok false leaves it to the serial path. It returns what read
// returns, and sets h.big to the hash when the whole file was hashed.
func (h *hasher) readBig(ctx context.Context, fd int, path string, st *unix.Stat_t) (n int64, ok bool, err error) {
	h.big = nil
	reading.Add(1)
	if st.Size < bigMin || !idleHelper() {
		return 0, false, nil
	}
	var helpers int
	recruit := func() bool {
		if helpers == 0 || idleHelper() {
			helpers++
			return true
		}
		return false
	}
	defer func() {
		for range helpers {
			<-bigHelpers
		}
	}()
	n, err = h.readUnits(ctx, fd, path, st, unitHeight(st.Size), recruit)
	return n, true, err
}

// readUnits reads the file in units of 2^uh chunks on the calling
// goroutine and on a helper more each time recruit, asked before each unit
// the caller takes, says yes; it sets h.big when it hashed the whole file.
func (h *hasher) readUnits(ctx context.Context, fd int, path string, st *unix.Stat_t, uh int, recruit func() bool) (int64, error) {
	b := &bigRead{ctx: ctx, opts: h.opts, fd: fd, path: path, st: st, layout: newTreeLayout(st.Size, uh),
		sparse: st.Size > bufSize && st.Blocks*512 < st.Size}
	b.piece = min(bufSize, b.layout.unitLen())
	b.cvs = make([][8]uint32, b.layout.units)
	b.direct.Store(h.direct)
	var wg sync.WaitGroup
	b.work(func() {
		for recruit() {
			wg.Go(func() { b.work(nil) })
		}
	})
	wg.Wait()
	h.direct = b.direct.Load()
	switch {
	case b.err == nil:
		var s treeStack
		for _, cv := range b.cvs {
			s.push(cv, uh)
		}
		b.end.pushTo(&s)
		sum := s.sum(b.tail[:b.tlen])
		h.big = &sum
		return st.Size, nil
	case errors.Is(b.err, errChanged), errors.Is(b.err, errShort):
		return b.hashed.Load(), nil // the caller's fstat sees the change
	default:
		return b.hashed.Load(), b.err
	}
}

// work takes units until none is left or the read stops, calling
// before, if set, before each.
func (b *bigRead) work(before func()) {
	big := bigBufs.Get().(*[]byte)
	defer bigBufs.Put(big)
	var s treeStack
	scratch := new([groupLen]byte)
	for {
		if before != nil {
			before()
		}
		j := b.next.Add(1) - 1
		if j > b.layout.units {
			return
		}
		if err := b.unit(j, *big, &s, scratch); err != nil {
			b.fail(err)
			return
		}
	}
}

// unit reads and hashes unit j, or the end when j is the number of full
// units.
func (b *bigRead) unit(j uint64, buf []byte, s *treeStack, scratch *[groupLen]byte) error {
	l := b.layout
	s.reset(j << l.h)
	start, end := int64(j)*l.unitLen(), min(int64(j+1)*l.unitLen(), l.size)
	last := j == l.units
	if last {
		end = l.size
	}
	for off := start; off < end; off += b.piece {
		e := min(off+b.piece, end)
		p, err := b.read(buf, off, e)
		if err != nil {
			return err
		}
		if !last || e < end {
			s.groups(p)
		} else {
			body := p[:l.lastChunk()-off]
			k := len(body) / groupLen * groupLen
			s.groups(body[:k])
			s.small(body[k:], scratch)
			b.tlen = copy(b.tail[:], p[len(body):])
		}
		b.hashed.Add(e - off)
	}
	if last {
		b.end = *s
	} else {
		b.cvs[j] = s.top(l.h)
	}
	return nil
}

// read returns bytes [off, end) of the file, at most a piece, read into buf
// or, for a hole, zeros without a read.
func (b *bigRead) read(buf []byte, off, end int64) ([]byte, error) {
	if err := b.gate(); err != nil {
		return nil, err
	}
	out := buf[:end-off]
	if !b.sparse {
		return out, b.pread(out, off)
	}
	for pos := off; pos < end; {
		data, hole, err := nextData(b.fd, pos, end)
		if err != nil {
			return nil, err
		}
		if pos == off && data == end {
			return zeroChunk[:end-off], nil
		}
		clear(out[pos-off : data-off])
		if err := b.pread(out[data-off:hole-off], data); err != nil {
			return nil, err
		}
		pos = hole
	}
	return out, nil
}

// pread fills p with the file's bytes from off: whole blocks with O_DIRECT
// (p must then lie in a buffer with room to round its length up), dropping
// O_DIRECT where the filesystem refuses it.
func (b *bigRead) pread(p []byte, off int64) error {
	for len(p) > 0 {
		want := p
		if b.direct.Load() {
			want = p[:min(roundUp(int64(len(p))), int64(cap(p)))]
		}
		n, err := unix.Pread(b.fd, want, off)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EINVAL) && b.direct.Load():
			if err := b.dropDirect(); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case n == 0:
			return errShort
		}
		n = min(n, len(p))
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// dropDirect turns O_DIRECT off for every reader of the file and drops its
// cached pages, as the serial read does.
func (b *bigRead) dropDirect() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.direct.Load() {
		return nil
	}
	b.direct.Store(false)
	return errors.Join(setDirect(b.fd, false), unix.Fadvise(b.fd, 0, 0, unix.FADV_DONTNEED))
}

// gate is the serial read's chunk, for all readers in one order: it stops
// a stopped or cancelled read, counts the chunk, gives way to Pace, looks
// every restatChunks chunks at whether the file changed, and injects
// "read" faults. A failure is recorded before another reader passes.
func (b *bigRead) gate() error {
	if b.opts.Pace != nil {
		b.opts.Pace()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return errStopped
	}
	b.err = b.pass()
	return b.err
}

// pass is gate's work, under b.mu.
func (b *bigRead) pass() error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	if b.opts.Stats != nil {
		b.opts.Stats.Chunks.Add(1)
	}
	if b.chunks++; b.chunks%restatChunks == 0 {
		var st unix.Stat_t
		if err := unix.Fstat(b.fd, &st); err != nil {
			return err
		}
		if st.Size != b.st.Size || st.Mtim != b.st.Mtim || st.Ctim != b.st.Ctim || st.Ino != b.st.Ino {
			return errChanged
		}
	}
	return b.opts.fault("read", b.path)
}

// fail records the first failure, which stops every reader.
func (b *bigRead) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// sum appends the last read's hash to b.
func (h *hasher) sum(b []byte) []byte {
	if h.big != nil {
		return append(b, h.big[:]...)
	}
	return h.h.Sum(b)
}
