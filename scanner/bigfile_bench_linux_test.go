package scanner

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/merkle"
)

// BenchmarkBigFile is the per-file path (open, fstat, flags, xattrs, read
// and hash, fstat, close) on one file of random content, warm, serial
// (bigMin above its size) and on every core. VIGIL_BENCH_BIG names sizes
// in MiB to run instead of the default sweep, which shows where the
// parallel read starts to pay (bigMin): VIGIL_BENCH_BIG=1024,4096 for the
// README's figures. VIGIL_BENCH_BIG_DIR keeps the files there between
// runs (random content is slow to write), reusing those of the right size.
func BenchmarkBigFile(b *testing.B) {
	sizes := []int64{1, 2, 4, 8, 16, 64}
	if s := os.Getenv("VIGIL_BENCH_BIG"); s != "" {
		sizes = nil
		for _, x := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				b.Fatalf("VIGIL_BENCH_BIG=%q: %v", s, err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, mib := range sizes {
		dir := os.Getenv("VIGIL_BENCH_BIG_DIR")
		if dir == "" {
			dir = b.TempDir()
		}
		p := filepath.Join(dir, "big-"+strconv.FormatInt(mib, 10)+"MiB")
		if fi, err := os.Stat(p); err != nil || fi.Size() != mib<<20 {
			writeRandom(b, p, mib<<20)
		}
		for _, mode := range []string{"serial", "parallel"} {
			b.Run(strconv.FormatInt(mib, 10)+"MiB/"+mode, func(b *testing.B) {
				old := bigMin
				if mode == "serial" {
					bigMin = 1 << 62
				} else {
					bigMin = 0
					systemIdle = func() bool { return true } // this machine is shared
				}
				defer func() { bigMin, systemIdle = old, cpuIdle }()
				benchOneFile(b, p, mib<<20, mode == "parallel")
			})
		}
	}
}

// writeRandom writes n random bytes to p.
func writeRandom(b *testing.B, p string, n int64) {
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(buf)))
		rand.Read(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchOneFile runs the per-file path on p, size bytes long, and checks
// that it ran on several cores, or not.
func benchOneFile(b *testing.B, p string, size int64, parallel bool) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		b.Fatal(err)
	}
	var e merkle.Entry
	fillStat(&e, &st, 0)
	e.Path, e.Attrs = p, merkle.AttrAll
	h := newHasher(&Options{})
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		ec := e
		j := &job{e: &ec, hash: true, done: make(chan struct{})}
		h.do(context.Background(), j)
		if j.err != nil || ec.HashState != merkle.HashOK {
			b.Fatalf("do(%s) = %v, state %v", p, j.err, ec.HashState)
		}
		if (h.big != nil) != parallel {
			b.Fatalf("do(%s): read on several cores %v, want %v", p, h.big != nil, parallel)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user and system) the process has used, in ns:
// on a shared machine, what the work cost, whoever else runs.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
