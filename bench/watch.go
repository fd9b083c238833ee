package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WatchOptions configure [Watch].
type WatchOptions struct {
	// Vigil is the vigil binary.
	Vigil string
	// Dir is the work directory (tree, configuration, database, sink).
	Dir string
	// Samples is the number of write-to-alert latency samples; 0 means 200.
	Samples int
	// Burst is the number of files changed at once; 0 means 100,000.
	Burst int
	// Timeout bounds each wait for an alert; 0 means 5 minutes.
	Timeout time.Duration
}

// WatchResult is what [Watch] measured.
type WatchResult struct {
	Samples       int
	P50, P99, Max time.Duration
	// Burst files changed; Reported of them were alerted on (each at
	// least once) by Quiescence after the first write of the burst, the
	// writes taking Written.
	Burst, Reported     int
	Written, Quiescence time.Duration
	// PeakRSS is the daemon's peak resident set (VmHWM), in KiB.
	PeakRSS int64
	// Overflows is how many events_lost catch-ups the burst caused.
	Overflows int
}

// Watch measures vigil watch: a tree of Burst files in directories of 1,000
// gets a baseline; the daemon runs with the default settle window and a
// file sink; Samples files are created one after the other, each timed from
// its write to its alert in the sink; then every file of the tree is
// rewritten at once and the time until each changed path was reported is
// taken, and the daemon's peak RSS.
func Watch(ctx context.Context, o WatchOptions) (WatchResult, error) {
	if o.Samples <= 0 {
		o.Samples = 200
	}
	if o.Burst <= 0 {
		o.Burst = 100_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	root, cfg, db, sink := filepath.Join(o.Dir, "tree"), filepath.Join(o.Dir, "vigil.toml"), filepath.Join(o.Dir, "vigil.db"), filepath.Join(o.Dir, "events.json")
	paths, err := burstTree(root, o.Burst)
	if err != nil {
		return WatchResult{}, err
	}
	text := fmt.Sprintf("roots = [%q]\n[watch]\nscan_interval = \"24h\"\n[[sink]]\ntype = \"file\"\npath = %q\n", root, sink)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return WatchResult{}, err
	}
	if out, err := exec.CommandContext(ctx, o.Vigil, "--config", cfg, "--db", db, "--quiet", "init").CombinedOutput(); err != nil {
		return WatchResult{}, fmt.Errorf("vigil init: %w: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, o.Vigil, "--config", cfg, "--db", db, "--quiet", "watch")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return WatchResult{}, err
	}
	t := &sinkTail{path: sink, timeout: o.Timeout}
	res, err := measureWatch(ctx, t, root, paths, o.Samples)
	res.PeakRSS = peakRSS(cmd.Process.Pid)
	err = errors.Join(err, cmd.Process.Signal(syscall.SIGTERM))
	if werr := cmd.Wait(); werr != nil {
		err = errors.Join(err, fmt.Errorf("vigil watch: %w: %s", werr, stderr.Bytes()))
	}
	return res, err
}

func measureWatch(ctx context.Context, t *sinkTail, root string, paths []string, samples int) (WatchResult, error) {
	res := WatchResult{Samples: samples, Burst: len(paths)}
	if _, err := t.until(ctx, func(ev sinkEvent) bool { return ev.Event.Action == "start" }); err != nil {
		return res, fmt.Errorf("waiting for the start: %w", err)
	}
	lat := filepath.Join(root, "latency")
	var ds []time.Duration
	for i := range samples {
		p := filepath.Join(lat, "f"+strconv.Itoa(i))
		began := time.Now()
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			return res, err
		}
		if _, err := t.until(ctx, func(ev sinkEvent) bool { return ev.File.Path == p }); err != nil {
			return res, fmt.Errorf("sample %d: %w", i, err)
		}
		ds = append(ds, time.Since(began))
	}
	slices.Sort(ds)
	res.P50, res.P99, res.Max = ds[len(ds)/2], ds[(len(ds)*99)/100], ds[len(ds)-1]

	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	began := time.Now()
	for _, p := range paths {
		if err := os.WriteFile(p, []byte("changed"), 0o644); err != nil {
			return res, err
		}
	}
	res.Written = time.Since(began)
	_, err := t.until(ctx, func(ev sinkEvent) bool {
		if ev.Event.Action == "events_lost" {
			res.Overflows++
		}
		if ev.Event.Action == "updated" && want[ev.File.Path] {
			delete(want, ev.File.Path)
			res.Reported++
		}
		return len(want) == 0
	})
	res.Quiescence = time.Since(began)
	return res, err
}

// burstTree makes n files in directories of 1,000 below root, and an empty
// directory for the latency samples.
func burstTree(root string, n int) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(root, "latency"), 0o755); err != nil {
		return nil, err
	}
	paths := make([]string, 0, n)
	for i := range n {
		d := filepath.Join(root, "burst", fmt.Sprintf("d%04d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		p := filepath.Join(d, fmt.Sprintf("f%04d", i%1000))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	// Older than the racy window, so that the baseline's stat cache holds.
	old := time.Now().Add(-time.Hour)
	for _, p := range paths {
		if err := os.Chtimes(p, old, old); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// sinkEvent is what the benchmark reads of an event.
type sinkEvent struct {
	Event struct{ Action string } `json:"event"`
	File  struct{ Path string }   `json:"file"`
}

// sinkTail follows the file sink's JSON lines.
type sinkTail struct {
	path    string
	off     int64
	partial []byte
	timeout time.Duration
}

// until reads events until ok says so.
func (t *sinkTail) until(ctx context.Context, ok func(sinkEvent) bool) (sinkEvent, error) {
	deadline := time.Now().Add(t.timeout)
	for {
		f, err := os.Open(t.path)
		if err == nil {
			data, rerr := readFrom(f, t.off)
			f.Close()
			if rerr != nil {
				return sinkEvent{}, rerr
			}
			t.off += int64(len(data))
			data = append(t.partial, data...)
			last := bytes.LastIndexByte(data, '\n')
			var lines []byte
			if last >= 0 {
				lines, t.partial = data[:last], append([]byte(nil), data[last+1:]...)
			} else {
				t.partial = data
			}
			for l := range strings.SplitSeq(string(lines), "\n") {
				var ev sinkEvent
				if l == "" || json.Unmarshal([]byte(l), &ev) != nil {
					continue
				}
				if ok(ev) {
					return ev, nil
				}
			}
		} else if !os.IsNotExist(err) {
			return sinkEvent{}, err
		}
		if time.Now().After(deadline) {
			return sinkEvent{}, fmt.Errorf("%s: %w", t.path, ErrTimeout)
		}
		select {
		case <-ctx.Done():
			return sinkEvent{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func readFrom(f *os.File, off int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() <= off {
		return nil, err
	}
	buf := make([]byte, fi.Size()-off)
	n, err := f.ReadAt(buf, off)
	return buf[:n], err
}

// peakRSS returns VmHWM of pid in KiB, 0 if unknown.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
