package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
)

// overflowQueue fills the intake's queues past their length while the
// intake is stalled: the buffer of the fsnotify channel (the watch
// package's default, 65536 events) and the kernel's inotify queue
// (fs.inotify.max_queued_events, read, never written: it is host-wide).
// Each round renames dir/ping to dir/pong and back (4 events, none merged
// with the one before).
func overflowQueue(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Fatal(err)
	}
	q, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || q <= 0 || q > 1<<22 {
		t.Fatalf("fs.inotify.max_queued_events = %q: want a number up to %d to overflow the queue by renames", b, 1<<22)
	}
	a, z := filepath.Join(dir, "ping"), filepath.Join(dir, "pong")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range (65536+q)/4 + 1024 {
		if err := os.Rename(a, z); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(z, a); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverflowCatchUpReportsEveryChange(t *testing.T) {
	const n = 3000
	h := newHost(t, fimtest.Tree{"var/keep": fimtest.File("")}, "")
	// The intake stalls at its first hint until the queues overflowed and
	// the n files were written: their events are lost.
	stalled, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.start(t, Options{onHint: func(watch.Event) {
		once.Do(func() { close(stalled) })
		<-release
	}})
	unstall := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unstall) // before the daemon's stop, which runs earlier cleanups
	dir := filepath.Join(h.root, "var")
	if err := os.WriteFile(filepath.Join(dir, "first"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	<-stalled
	overflowQueue(t, dir)
	began := time.Now()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files written in %v", n, time.Since(began))
	unstall()
	evs := await(t, h.events, fmt.Sprintf("%d created", n), func(evs []alerts.Event) bool {
		last := map[string]int64{}
		for _, ev := range evs {
			if ev.Event.Action == "created" {
				last[ev.File.Path] = *ev.File.Size
			}
		}
		for i := range n {
			if last[filepath.Join(dir, fmt.Sprintf("f%04d", i))] != 1 {
				return false
			}
		}
		return count(evs, "events_lost") > 0
	})
	// A file seen between its creation and its write is a second state:
	// a second alert, but the last one always shows the file as written.
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%04d", i))
		got := find(evs, "created", p)
		if len(got) == 0 || *got[len(got)-1].File.Size != 1 {
			t.Errorf("%s: created events %v, want the last with size 1", p, got)
		}
	}
	t.Logf("%d events, %d events_lost catch-ups, all reported %v after the first write", len(evs), count(evs, "events_lost"), time.Since(began))
	if count(evs, "events_lost") == 0 {
		t.Errorf("no events_lost catch-up notice after %d creations behind overflowed queues; log:\n%s", n, h.logText())
	}
}
