//go:build linux

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/store"
)

// BenchmarkLatencyBesideLargeFiles is the write-to-alert latency of small
// files (a write, real inotify, the default settle window, the alert on
// the stdout sink) while the large-file worker hashes a 256 GiB sparse file
// (truncate: no data) and a real file of VIGIL_BENCH_REAL_GIB GiB (default
// 1), both made after the start; "idle" is the same without them. It
// reports p50 and p99 in ms. The intake is inotify: the writes are the
// benchmark's, in the daemon's own process, which fanotify leaves out.
func BenchmarkLatencyBesideLargeFiles(b *testing.B) {
	for _, busy := range []bool{false, true} {
		name := "idle"
		if busy {
			name = "beside_large_files"
		}
		b.Run(name, func(b *testing.B) { benchLatency(b, busy) })
	}
}

func benchLatency(b *testing.B, busy bool) {
	root, dir := b.TempDir(), b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "srv"), 0o755); err != nil {
		b.Fatal(err)
	}
	dbPath := filepath.Join(dir, "vigil.db")
	text := fmt.Sprintf("database = %q\nroots = [%q]\n[watch]\nsettle = \"100ms\"\nintake = \"inotify\"\n[[sink]]\ntype = \"stdout\"\n", dbPath, root)
	cfg, err := config.Parse(filepath.Join(dir, "vigil.toml"), []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := engine.Init(context.Background(), db, engine.Options{Config: cfg}); err != nil {
		b.Fatal(err)
	}
	db.Close()
	out := &alertWaiter{want: map[string]chan struct{}{}}
	ready := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Stdout: out, Host: "bench", Log: benchLog(), Notify: func(s string) {
			if s == "READY=1" {
				once.Do(func() { close(ready) })
			}
		}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	<-ready
	if busy {
		sparse, real := filepath.Join(root, "srv", "sparse"), filepath.Join(root, "srv", "real")
		arrived := []<-chan struct{}{out.expect(sparse), out.expect(real)}
		f, err := os.Create(sparse)
		if err == nil {
			err = f.Truncate(256 << 30)
			f.Close()
		}
		if err != nil {
			b.Fatal(err)
		}
		gib, _ := strconv.Atoi(os.Getenv("VIGIL_BENCH_REAL_GIB"))
		if err := writeReal(real, max(gib, 1)); err != nil {
			b.Fatal(err)
		}
		for i, p := range []string{sparse, real} {
			if !arrivedWithin(arrived[i], time.Minute) {
				b.Fatalf("no hash_pending for %s", p)
			}
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		p := filepath.Join(root, "srv", fmt.Sprintf("small%06d", i))
		i++
		c := out.expect(p)
		began := time.Now()
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		if !arrivedWithin(c, time.Minute) {
			b.Fatalf("no alert for %s within a minute", p)
		}
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	if busy {
		large := out.count("hash_pending")
		b.ReportMetric(float64(large), "hash_pending")
	}
}

// writeReal writes gib GiB of non-zero data to path.
func writeReal(path string, gib int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := bytes.Repeat([]byte("vigil bench data"), 1<<16) // 1 MiB
	for range gib << 10 {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil { // its writeback is not what is measured
		f.Close()
		return err
	}
	return f.Close()
}

// alertWaiter is the stdout sink's writer: it tells waiters when an event
// about their path arrives.
type alertWaiter struct {
	mu      sync.Mutex
	want    map[string]chan struct{}
	actions map[string]int
}

// expect returns what is closed when an event about path arrives.
func (a *alertWaiter) expect(path string) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := make(chan struct{})
	a.want[path] = c
	return c
}

func arrivedWithin(c <-chan struct{}, d time.Duration) bool {
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}

func (a *alertWaiter) count(action string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.actions[action]
}

func (a *alertWaiter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var ev alerts.Event
		if json.Unmarshal(line, &ev) != nil || ev.File == nil {
			continue
		}
		a.mu.Lock()
		if a.actions == nil {
			a.actions = map[string]int{}
		}
		a.actions[ev.Event.Action]++
		if c, ok := a.want[ev.File.Path]; ok {
			close(c)
			delete(a.want, ev.File.Path)
		}
		a.mu.Unlock()
	}
	return len(p), nil
}

func benchLog() zerolog.Logger {
	if os.Getenv("VIGIL_BENCH_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(os.Stderr).With().Timestamp().Logger()
}
