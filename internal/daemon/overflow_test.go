package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// sysctl sets /proc/sys/fs/inotify/NAME to v; the returned function puts
// the old value back, and runs when t ends in any case.
func sysctl(t *testing.T, name string, v int) func() {
	t.Helper()
	p := "/proc/sys/fs/inotify/" + name
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	done := false
	restore := func() {
		if done {
			return
		}
		done = true
		if err := os.WriteFile(p, old, 0o644); err != nil {
			t.Errorf("restoring %s: %v", p, err)
		}
	}
	t.Cleanup(restore)
	if err := os.WriteFile(p, []byte(strconv.Itoa(v)), 0o644); err != nil {
		t.Fatal(err)
	}
	return restore
}

func TestOverflowCatchUpReportsEveryChange(t *testing.T) {
	fimtest.NeedRoot(t, "lowering fs.inotify.max_queued_events")
	const n = 3000
	h := newHost(t, fimtest.Tree{"var/keep": fimtest.File("")}, "")
	restore := sysctl(t, "max_queued_events", 16)
	h.start(t, Options{}) // the queue size is taken when inotify starts
	restore()
	dir := filepath.Join(h.root, "var")
	began := time.Now()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files written in %v", n, time.Since(began))
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
		t.Errorf("no events_lost catch-up notice after %d creations with a queue of 16; log:\n%s", n, h.logText())
	}
}
