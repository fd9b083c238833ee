package daemon

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/alerts"
)

// TestEventsMissing: every queued event carries event.sequence, rising by
// one; two events deleted from the outbox file while the daemon is
// stopped are one critical events_missing alert at the next start, naming
// the range, and not again at the start after.
func TestEventsMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		h.startIdle(t, Options{})
		h.sink.setDown(true)
		for _, rel := range rels[:4] {
			h.write(t, rel, "changed")
		}
		h.settle(time.Second)
		h.stop(t)
		keys := queuedKeys(t, h.cfg.OutboxPath(), "0-stdout")
		if len(keys) != 4 {
			t.Fatalf("the stdout sink's queue holds %d events, want the 4 updates", len(keys))
		}
		deleteQueued(t, h.cfg.OutboxPath(), "0-stdout", keys[1], keys[2])

		h.sink.setDown(false)
		var queued atomic.Uint64
		h.startIdle(t, Options{QueuedSequence: &queued})
		evs := h.sink.events()
		var last uint64
		for _, ev := range evs {
			if ev.Event.Sequence <= last {
				t.Errorf("%s: event.sequence %d after %d, want it rising", ev.Event.Action, ev.Event.Sequence, last)
			}
			last = ev.Event.Sequence
		}
		if s, q := h.stats.sequence.Load(), queued.Load(); s != last || q != last {
			t.Errorf("highest sequence queued = %d, for the fleet heartbeat %d; want the last delivered, %d", s, q, last)
		}
		m := actions(evs, "events_missing")
		if len(m) != 1 || m[0].Vigil == nil || m[0].Vigil.Missing == nil {
			t.Fatalf("events after deleting 2 queued ones:\n%swant one events_missing", describe(evs))
		}
		got, upd := *m[0].Vigil.Missing, actions(evs, "updated")
		if len(upd) != 2 {
			t.Fatalf("updates delivered: %d, want the 2 left", len(upd))
		}
		want := alerts.MissingInfo{Sink: "0-stdout", Count: 2, FirstSequence: upd[0].Event.Sequence + 1, LastSequence: upd[1].Event.Sequence - 1}
		if got != want || m[0].Event.Severity != alerts.SeverityCritical {
			t.Errorf("events_missing = %+v severity %d, want %+v severity %d", got, m[0].Event.Severity, want, alerts.SeverityCritical)
		}
		h.stop(t)
		n := len(h.sink.events())
		h.startIdle(t, Options{})
		if c := count(h.sink.events()[n:], "events_missing"); c != 0 {
			t.Errorf("the next start reported events_missing %d times again, want 0 (reported once)", c)
		}
	})
}

// queuedKeys returns the keys of sink's queue in the outbox file.
func queuedKeys(t *testing.T, path, sink string) []uint64 {
	t.Helper()
	var keys []uint64
	editOutbox(t, path, func(q *bolt.Bucket) error {
		return q.Bucket([]byte(sink)).ForEach(func(k, _ []byte) error {
			keys = append(keys, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	return keys
}

// deleteQueued deletes entries of sink's queue with bbolt, as someone
// editing the outbox file while the daemon is stopped would.
func deleteQueued(t *testing.T, path, sink string, keys ...uint64) {
	t.Helper()
	editOutbox(t, path, func(q *bolt.Bucket) error {
		for _, k := range keys {
			if err := q.Bucket([]byte(sink)).Delete(binary.BigEndian.AppendUint64(nil, k)); err != nil {
				return err
			}
		}
		return nil
	})
}

func editOutbox(t *testing.T, path string, f func(queue *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return f(tx.Bucket([]byte("queue"))) })
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
