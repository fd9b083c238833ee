package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func appendN(t *testing.T, o *Outbox, n int, sinks ...string) {
	t.Helper()
	for range n {
		e := OutboxEntry{Sinks: sinks, Encode: func(seq uint64) ([]byte, error) { return fmt.Appendf(nil, "ev%d", seq), nil }}
		if err := o.Append([]OutboxEntry{e}, time.Unix(1000, 0)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func TestOutboxSequenceMonotonicAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	o, err := OpenOutbox(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := o.Sequence(); n != 0 || err != nil {
		t.Fatalf("Sequence() of a new outbox = %d %v, want 0", n, err)
	}
	appendN(t, o, 3, "a")
	seqs, _, _ := o.Pending("a", 10)
	if err := o.Remove("a", seqs...); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = OpenOutbox(path, 10); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	appendN(t, o, 2, "a", "b")
	if n, err := o.Sequence(); n != 5 || err != nil {
		t.Errorf("Sequence() after 3+2 events and a reopen = %d %v, want 5", n, err)
	}
	_, data, _ := o.Pending("b", 10)
	if diff := cmp.Diff([]string{"ev4", "ev5"}, strs(data)); diff != "" {
		t.Errorf("Pending(b) (-want +got):\n%s", diff)
	}
	if g, err := o.Gaps(); len(g) != 0 || err != nil {
		t.Errorf("Gaps() with nothing deleted = %v %v, want none", g, err)
	}
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

// deleteQueued deletes sink's queued entries keys with bbolt directly, as
// someone editing the file while the daemon is stopped would.
func deleteQueued(t *testing.T, path, sink string, keys ...uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue).Bucket([]byte(sink))
		for _, k := range keys {
			if err := q.Delete(binary.BigEndian.AppendUint64(nil, k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxGapsFindDeletedEntriesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	o, err := OpenOutbox(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 2, "a")      // seq 1, 2: a's 1, 2
	appendN(t, o, 1, "b")      // seq 3
	appendN(t, o, 8, "a", "b") // seq 4..11: a's 3..10
	seqs, _, _ := o.Pending("a", 1)
	if err := o.Remove("a", seqs...); err != nil { // a's 1 delivered
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	// a's queue: 2 (seq 2), 3..10 (seq 4..11). Delete 2 (the head), 5 and
	// 6 (seq 6, 7), and 10 (the tail, seq 11).
	deleteQueued(t, path, "a", 2, 5, 6, 10)
	if o, err = OpenOutbox(path, 100); err != nil {
		t.Fatal(err)
	}
	gaps, err := o.Gaps()
	if err != nil {
		t.Fatal(err)
	}
	want := []OutboxGap{
		{Sink: "a", From: 2, To: 2, After: 1, Before: 4},
		{Sink: "a", From: 5, To: 6, After: 5, Before: 8},
		{Sink: "a", From: 10, To: 10, After: 10, Before: 12},
	}
	if diff := cmp.Diff(want, gaps); diff != "" {
		t.Fatalf("Gaps() after deleting entries offline (-want +got):\n%s", diff)
	}
	if d, _ := o.Depth("a"); d != 5 {
		t.Errorf("Depth(a) after the deletion = %d, want 5 (recounted at open)", d)
	}
	if err := o.AckGaps(gaps); err != nil {
		t.Fatal(err)
	}
	if g, err := o.Gaps(); len(g) != 0 || err != nil {
		t.Errorf("Gaps() after AckGaps = %v %v, want none (reported once)", g, err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = OpenOutbox(path, 100); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if g, err := o.Gaps(); len(g) != 0 || err != nil {
		t.Errorf("Gaps() after AckGaps and a reopen = %v %v, want none", g, err)
	}
	// Delivery goes on over the holes, and a new deletion is found.
	seqs, data, _ := o.Pending("a", 100)
	if diff := cmp.Diff([]string{"ev4", "ev5", "ev8", "ev9", "ev10"}, strs(data)); diff != "" {
		t.Errorf("Pending(a) (-want +got):\n%s", diff)
	}
	if err := o.Remove("a", seqs...); err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 2, "a")
	deleteQueuedOpen(t, o, "a", 11)
	if g, _ := o.Gaps(); len(g) != 1 || g[0].From != 11 || g[0].After != 10 || g[0].Before != 13 {
		t.Errorf("Gaps() after deleting a's 11 = %+v, want a's 11, sequence between 10 and 13", g)
	}
}

// deleteQueuedOpen deletes through the open outbox's handle.
func deleteQueuedOpen(t *testing.T, o *Outbox, sink string, key uint64) {
	t.Helper()
	err := o.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).Bucket([]byte(sink)).Delete(binary.BigEndian.AppendUint64(nil, key))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkOutboxAppend is the cost of queueing one batch of events (the
// sequence number assigned in the transaction; one fsync per batch) for
// two sinks, per batch size.
func BenchmarkOutboxAppend(b *testing.B) {
	data := make([]byte, 900) // an alert's JSON is about that
	for _, n := range []int{1, 64, 2048} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			o, err := OpenOutbox(filepath.Join(b.TempDir(), "outbox"), 1<<30)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			entries := make([]OutboxEntry, n)
			for i := range entries {
				entries[i] = OutboxEntry{Sinks: []string{"a", "b"}, Encode: func(seq uint64) ([]byte, error) {
					return append(binary.BigEndian.AppendUint64(nil, seq), data...), nil
				}}
			}
			b.SetBytes(int64(n * len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := o.Append(entries, time.Unix(1000, 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOutboxMigratesFirstLayout: an outbox written before the host
// sequence (values the bare JSON, no meta) opens with its queued events
// intact, no gap reported, and queues after them.
func TestOutboxMigratesFirstLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		qs, err := tx.CreateBucket(bucketQueue)
		if err != nil {
			return err
		}
		q, err := qs.CreateBucket([]byte("a"))
		if err != nil {
			return err
		}
		for i := uint64(1); i <= 5; i++ { // 1 and 2 delivered already
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if i <= 2 {
				continue
			}
			if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), fmt.Appendf(nil, "old%d", i)); err != nil {
				return err
			}
		}
		depth, err := tx.CreateBucket(bucketDepth)
		if err != nil {
			return err
		}
		return put64(depth, "a", 3)
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	o, err := OpenOutbox(path, 100)
	if err != nil {
		t.Fatalf("OpenOutbox of the first layout: %v", err)
	}
	if g, err := o.Gaps(); len(g) != 0 || err != nil {
		t.Errorf("Gaps() after the migration = %+v %v, want none", g, err)
	}
	appendN(t, o, 1, "a")
	seqs, data, err := o.Pending("a", 10)
	if err != nil || !cmp.Equal(strs(data), []string{"old3", "old4", "old5", "ev1"}) || !cmp.Equal(seqs, []uint64{3, 4, 5, 6}) {
		t.Errorf("Pending(a) after the migration = %v %q %v, want 3..6: old3 old4 old5 ev1", seqs, data, err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = OpenOutbox(path, 100); err != nil { // migrated once
		t.Fatal(err)
	}
	if _, data, _ := o.Pending("a", 10); len(data) != 4 || string(data[0]) != "old3" {
		t.Errorf("Pending(a) after a second open = %q, want the same 4", data)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}
