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
// package's default, 65536 events), one read of fsnotify's (up to 4096
// events) and the kernel's inotify queue (fs.inotify.max_queued_events,
// read, never written: it is host-wide).
// It writes a byte to dir/ping and dir/pong in turn: one IN_MODIFY each,
// none merged with the one before (the kernel merges an event only into an
// identical last one), and no metadata written.
func overflowQueue(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Fatal(err)
	}
	q, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || q <= 0 || q > 1<<22 {
		t.Fatalf("fs.inotify.max_queued_events = %q: want a number up to %d to overflow the queue", b, 1<<22)
	}
	var fs [2]*os.File
	for i, name := range []string{"ping", "pong"} {
		if fs[i], err = os.Create(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		defer fs[i].Close()
	}
	for i := range 65536 + 4096 + q + 4096 {
		if _, err := fs[i%2].Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverflowCatchUpReportsEveryChange(t *testing.T) {
	const n = 500
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
