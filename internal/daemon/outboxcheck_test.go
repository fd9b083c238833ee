package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
)

// TestOutboxReplacedWhileRunning: the outbox file renamed over (an older
// copy put back) or removed while the daemon runs, with events queued
// for a sink that is down: a critical events_missing alert for that
// sink's queue (what the next start will not find), once per replacement;
// the queued events and the alert are still delivered from the file the
// daemon holds once the sink is back.
func TestOutboxReplacedWhileRunning(t *testing.T) {
	for _, how := range []string{"renamed over", "removed"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tree, rels := twenty()
				h := newHost(t, tree, "")
				h.startIdle(t, Options{outboxCheck: time.Second})
				ob := h.cfg.OutboxPath()
				old := filepath.Join(t.TempDir(), "outbox.copy")
				copyFile(t, ob, old) // before the events below: an older copy
				h.sink.setDown(true)
				for _, rel := range rels[:3] {
					h.write(t, rel, "changed")
				}
				h.settle(2 * time.Second) // checked twice: the same file
				if evs := h.sink.events(); count(evs, "events_missing") != 0 {
					t.Fatalf("events_missing with the outbox in place:\n%s", describe(evs))
				}
				var err error
				if how == "removed" {
					err = os.Remove(ob)
				} else {
					err = os.Rename(old, ob)
				}
				if err != nil {
					t.Fatal(err)
				}
				h.settle(5 * time.Second) // five checks
				h.sink.setDown(false)
				h.settle(2 * time.Minute) // the sink's retry backs off up to a minute
				evs := h.sink.events()
				m := actions(evs, "events_missing")
				upd := actions(evs, "updated")
				if len(m) != 1 || m[0].Vigil == nil || m[0].Vigil.Missing == nil || len(upd) != 3 {
					t.Fatalf("events after the outbox was %s:\n%swant the 3 updates and one events_missing", how, describe(evs))
				}
				got := *m[0].Vigil.Missing
				want := alerts.MissingInfo{Sink: "0-stdout", Count: 3, FirstSequence: upd[0].Event.Sequence, LastSequence: upd[2].Event.Sequence}
				if got != want || m[0].Event.Severity != alerts.SeverityCritical {
					t.Errorf("events_missing = %+v severity %d, want %+v severity %d", got, m[0].Event.Severity, want, alerts.SeverityCritical)
				}
			})
		})
	}
}

// copyFile copies the file at src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
