package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// BenchmarkIdleWriteToAlert measures, per intake, the time from a write by
// another process (a shell fed commands on a pipe: `echo N > file`, no
// fork per write) to its alert at the stdout sink, one write at a time on
// an idle daemon with the default settle window (100 ms). It reports the
// median and the 99th percentile. "inotifywait" is the floor: the same
// writes seen by inotifywait -m -e close_write, no verification.
//
//	go test ./internal/daemon -run '^$' -bench IdleWriteToAlert -benchtime 200x
func BenchmarkIdleWriteToAlert(b *testing.B) {
	b.Run("inotifywait", benchInotifywait)
	for _, intake := range []string{"inotify", "fanotify"} {
		b.Run(intake, func(b *testing.B) {
			fimtest.NeedRoot(b, "a loop-mounted filesystem; fanotify needs CAP_SYS_ADMIN")
			root := fimtest.LoopFS(b, "ext4", 64<<20, "") + "/root"
			tree := fimtest.Tree{}
			for i := range 8 {
				tree[fmt.Sprintf("etc/f%d", i)] = fimtest.File("0\n")
			}
			if err := os.Mkdir(root, 0o755); err != nil {
				b.Fatal(err)
			}
			h := newHostAt(b, root, tree, func(string) string { return "" })
			h.init(b)
			h.src, h.cfg.Watch.Intake, h.cfg.Watch.Settle = nil, intake, 0 // the default window
			// Each write is its own alert: no flood limit coalesces the
			// eleventh of a path within a minute.
			h.cfg.Watch.FloodLimit, h.cfg.Watch.FloodDirLimit = 1<<30, 1<<30
			h.start(b, Options{})
			in := shell(b, root)
			var lat []time.Duration
			for i := 0; b.Loop(); i++ {
				rel := fmt.Sprintf("etc/f%d", i%8)
				path := h.path(rel)
				n := len(find(h.sink.events(), "updated", path))
				start := time.Now()
				if _, err := io.WriteString(in, fmt.Sprintf("echo %d > %s\n", i+1, rel)); err != nil {
					b.Fatal(err)
				}
				h.sink.await(b, "updated "+path, func(evs []alerts.Event) bool { return len(find(evs, "updated", path)) > n })
				lat = append(lat, time.Since(start))
				time.Sleep(20 * time.Millisecond) // idle between writes
			}
			reportLatency(b, lat)
		})
	}
}

// reportLatency reports the median and 99th percentile of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// shell starts sh in dir, reading commands from the returned pipe.
func shell(b *testing.B, dir string) io.Writer {
	sh := exec.Command("sh")
	sh.Dir = dir
	in, err := sh.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); sh.Wait() })
	return in
}

func benchInotifywait(b *testing.B) {
	bin, err := exec.LookPath("inotifywait")
	if err != nil {
		b.Skipf("inotifywait (inotify-tools): %v", err)
	}
	dir := b.TempDir()
	w := exec.Command(bin, "-m", "-e", "close_write", "--format", "%f", dir)
	out, err := w.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	errOut, err := w.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Process.Kill(); w.Wait() })
	// It says "Watches established." on stderr once it watches.
	for r := bufio.NewReader(errOut); ; {
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("inotifywait: %v", err)
		}
		if strings.Contains(l, "established") {
			break
		}
	}
	lines := bufio.NewReader(out)
	in := shell(b, dir)
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("f%d", i%8)
		start := time.Now()
		if _, err := io.WriteString(in, fmt.Sprintf("echo %d > %s\n", i+1, name)); err != nil {
			b.Fatal(err)
		}
		for {
			l, err := lines.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if l == name+"\n" {
				break
			}
		}
		lat = append(lat, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	reportLatency(b, lat)
}

// BenchmarkFanotifyForeignNoise measures what fanotify's whole-filesystem
// mark costs the daemon for changes outside its roots: a shell creates
// 20,000 files in a directory beside the root (same filesystem), then
// writes a marker inside it; the daemon's CPU time (user + system of this
// process, which runs it) until the marker's alert, per foreign change.
//
//	go test ./internal/daemon -run '^$' -bench FanotifyForeignNoise -benchtime 3x
func BenchmarkFanotifyForeignNoise(b *testing.B) {
	const n = 20000
	fimtest.NeedRoot(b, "a loop-mounted filesystem; fanotify needs CAP_SYS_ADMIN")
	mnt := fimtest.LoopFS(b, "ext4", 256<<20, "")
	root := mnt + "/root"
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	h := newHostAt(b, root, fimtest.Tree{"etc/marker": fimtest.File("0\n")}, func(string) string { return "" })
	h.init(b)
	h.src, h.cfg.Watch.Intake = nil, "fanotify"
	h.start(b, Options{})
	in := shell(b, mnt)
	marker := h.path("etc/marker")
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		noise := fmt.Sprintf("%s/noise%d", mnt, i)
		before := find(h.sink.events(), "updated", marker)
		t0 := cpuTime(b)
		script := fmt.Sprintf("mkdir %s; i=0; while [ $i -lt %d ]; do : > %s/f$i; i=$((i+1)); done; echo %d > %s\n", noise, n, noise, i+1, marker)
		if _, err := io.WriteString(in, script); err != nil {
			b.Fatal(err)
		}
		h.sink.await(b, "updated "+marker, func(evs []alerts.Event) bool { return len(find(evs, "updated", marker)) > len(before) })
		cpu += cpuTime(b) - t0
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/foreign-change")
	b.ReportMetric(float64(h.stats.lost.Load()), "lost")
	b.ReportMetric(0, "ns/op")
}

// cpuTime returns the user and system time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBurstWriteToVerdict measures, per intake, the latency of each
// alert during a burst: a shell creates 20,000 files in a watched
// directory as fast as it can (a builtin loop, no fork per file, about 4 s
// here), and each file's latency is its created alert's @timestamp (when
// the verification that found it began: the check's own time is not in
// it) minus the file's ctime (its creation). It reports the median, the
// 99th percentile, the time from the burst's start to its last alert at
// the sink, and the overflows; and, load-independent, the entries the
// verifications of hints visited per file created, the verifications (each
// a batch), and this process's CPU time (the daemon, and the test sink
// decoding every event) per file. The stages (stages.go) say where the
// time of the slowest 1 % went, on average: from the file's creation to
// its first hint (hint-ms), to its settling (settle-ms), to its batch's
// verification (queue-ms); and per batch of hints, the longest check,
// publish (events into the outbox) and save (alerted states, standing
// alerts), and the longest time between two batches' starts (cycle-ms);
// and the 99th percentile of write to outbox (p99-published-ms: the
// verdict's timestamp is when its check began).
//
//	go test ./internal/daemon -run '^$' -bench BurstWriteToVerdict -benchtime 1x
func BenchmarkBurstWriteToVerdict(b *testing.B) {
	const n = 20000
	for _, intake := range []string{"inotify", "fanotify"} {
		b.Run(intake, func(b *testing.B) {
			fimtest.NeedRoot(b, "a loop-mounted filesystem; fanotify needs CAP_SYS_ADMIN")
			root := fimtest.LoopFS(b, "ext4", 512<<20, "") + "/root"
			if err := os.Mkdir(root, 0o755); err != nil {
				b.Fatal(err)
			}
			h := newHostAt(b, root, fimtest.Tree{"burst/keep": fimtest.File("0\n")}, func(string) string { return "" })
			h.init(b)
			h.src, h.cfg.Watch.Intake, h.cfg.Watch.Settle = nil, intake, 0
			// Every verdict is measured: no flood limit coalesces them.
			h.cfg.Watch.FloodLimit, h.cfg.Watch.FloodDirLimit = 1<<30, 1<<30
			var rec stageLog
			// VIGIL_BENCH_BATCH compares bounds on a batch of hints (-1: none).
			batch, _ := strconv.Atoi(os.Getenv("VIGIL_BENCH_BATCH"))
			h.start(b, Options{onStages: rec.add, hintBatch: batch})
			in := shell(b, root)
			var lat []time.Duration
			var last time.Duration
			var createdAll []alerts.Event
			entries0, batches0 := h.stats.batchEntries.Load(), h.stats.verifications.Load()
			var cpu time.Duration // to the last alert's arrival, without the decoding after
			for i := 0; b.Loop(); i++ {
				dir := fmt.Sprintf("burst/r%d", i)
				start, cpu0 := time.Now(), cpuTime(b)
				script := fmt.Sprintf("mkdir %s; i=0; while [ $i -lt %d ]; do : > %s/f$i; i=$((i+1)); done\n", dir, n, dir)
				if _, err := io.WriteString(in, script); err != nil {
					b.Fatal(err)
				}
				prefix := h.path(dir) + "/"
				// The sink's new events only: rescanning all of them at each
				// look would take the daemon's CPU.
				// Lines are only counted while the burst runs, and decoded
				// after: the test's decoding would take the daemon's CPU.
				var lines [][]byte
				for deadline, seen := time.Now().Add(5*time.Minute), 0; len(lines) < n; time.Sleep(100 * time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d created alerts after 5 minutes", len(lines), n)
					}
					raw := h.sink.rawFrom(seen)
					seen += len(raw)
					for _, l := range raw {
						if bytes.Contains(l, []byte(`"action":"created"`)) && bytes.Contains(l, []byte(`"path":"`+prefix)) {
							lines = append(lines, l)
						}
					}
				}
				last = time.Since(start)
				cpu += cpuTime(b) - cpu0
				var created []alerts.Event
				for _, l := range lines {
					var ev alerts.Event
					if err := json.Unmarshal(l, &ev); err != nil {
						b.Fatal(err)
					}
					created = append(created, ev)
				}
				if got := createdBelow(created, prefix); len(got) != n {
					b.Fatalf("%d of %d lines are created alerts below %s", len(got), n, prefix)
				}
				for _, ev := range created {
					lat = append(lat, ev.Timestamp.Sub(ev.File.Ctime))
				}
				createdAll = append(createdAll, created...)
			}
			reportLatency(b, lat)
			rec.report(b, createdAll)
			b.ReportMetric(last.Seconds(), "s-to-last")
			b.ReportMetric(float64(h.stats.lost.Load()), "lost")
			// Load-independent: what verifying the burst cost the daemon.
			files := float64(b.N * n)
			b.ReportMetric(float64(h.stats.batchEntries.Load()-entries0)/files, "entries/file")
			b.ReportMetric(float64(h.stats.verifications.Load()-batches0), "verifications")
			b.ReportMetric(float64(cpu.Microseconds())/files, "cpu-µs/file")
		})
	}
}

// rawFrom returns the lines the sink accepted from the i-th on.
func (s *sink) rawFrom(i int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.raw[min(i, len(s.raw)):]...)
}

// createdBelow returns the created alerts of files whose path starts with
// prefix.
func createdBelow(evs []alerts.Event, prefix string) []alerts.Event {
	var out []alerts.Event
	for _, ev := range evs {
		if ev.Event.Action == "created" && ev.File != nil && strings.HasPrefix(ev.File.Path, prefix) {
			out = append(out, ev)
		}
	}
	return out
}
