package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// The host sequence and the gap check.
//
// Every event [Outbox.Append] queues gets the next host sequence number,
// kept in bucket "meta" (key "seq") and written in the same transaction as
// the event, so it is monotonic across restarts and crashes. Each sink's
// queue is numbered contiguously (the sink bucket's own sequence) and
// delivered in order, and bucket "delivered" records, per sink, the highest
// queue number removed and its host sequence: every number above it up to
// the bucket's sequence must still be queued. One that is not was deleted
// behind the daemon's back; [Outbox.Gaps] finds it.
var (
	bucketOutboxMeta = []byte("meta")
	bucketDelivered  = []byte("delivered")
	bucketGaps       = []byte("gaps")
	keySeq           = []byte("seq")
	keyVersion       = []byte("version")
)

// outboxVersion is the layout of the outbox: 1 prefixes each queued event
// with its host sequence.
const outboxVersion = 1

// migrateOutbox brings an outbox of the first layout (no meta) to the
// current one: queued events get the host sequence 0 (unknown).
func migrateOutbox(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketOutboxMeta)
	if meta.Get(keyVersion) != nil {
		return recountDepth(tx)
	}
	qs := tx.Bucket(bucketQueue)
	var sinks [][]byte
	if err := qs.ForEachBucket(func(k []byte) error { sinks = append(sinks, append([]byte(nil), k...)); return nil }); err != nil {
		return err
	}
	for _, s := range sinks {
		q := qs.Bucket(s)
		type kv struct{ k, v []byte }
		var all []kv
		if err := q.ForEach(func(k, v []byte) error {
			all = append(all, kv{append([]byte(nil), k...), append(make([]byte, 8), v...)})
			return nil
		}); err != nil {
			return err
		}
		for _, e := range all {
			if err := q.Put(e.k, e.v); err != nil {
				return err
			}
		}
		upTo := q.Sequence()
		if len(all) > 0 {
			upTo = u64(all[0].k) - 1
		}
		if err := setDelivered(tx, string(s), upTo, 0); err != nil {
			return err
		}
	}
	if err := put64(meta, string(keyVersion), outboxVersion); err != nil {
		return err
	}
	return recountDepth(tx)
}

// recountDepth sets each sink's depth to what its queue holds: events
// deleted behind the daemon's back (see [Outbox.Gaps]) no longer count.
func recountDepth(tx *bolt.Tx) error {
	qs, depth := tx.Bucket(bucketQueue), tx.Bucket(bucketDepth)
	return qs.ForEachBucket(func(name []byte) error {
		n := uint64(qs.Bucket(name).Stats().KeyN)
		if u64(depth.Get(name)) == n {
			return nil
		}
		return put64(depth, string(name), n)
	})
}

// delivered returns the highest queue number removed from sink's queue
// and its host sequence.
func delivered(tx *bolt.Tx, sink string) (upTo, seq uint64) {
	v := tx.Bucket(bucketDelivered).Get([]byte(sink))
	if len(v) != 16 {
		return 0, 0
	}
	return u64(v), u64(v[8:])
}

func setDelivered(tx *bolt.Tx, sink string, upTo, seq uint64) error {
	v := binary.BigEndian.AppendUint64(nil, upTo)
	return tx.Bucket(bucketDelivered).Put([]byte(sink), binary.BigEndian.AppendUint64(v, seq))
}

// Sequence returns the highest host sequence number queued so far (0:
// none): the number the next event gets, less one.
func (o *Outbox) Sequence() (uint64, error) {
	var n uint64
	err := o.bolt.View(func(tx *bolt.Tx) error {
		n = u64(tx.Bucket(bucketOutboxMeta).Get(keySeq))
		return nil
	})
	return n, err
}

// OutboxGap is a run of events missing from a sink's queue: queued, never
// delivered, no longer there.
type OutboxGap struct {
	Sink string
	// From and To are the first and last missing numbers in the sink's
	// queue: To-From+1 events are missing.
	From, To uint64
	// After and Before bound the host sequence numbers of the missing
	// events (both exclusive); After is 0 when unknown.
	After, Before uint64
}

// Count is how many events the gap holds.
func (g OutboxGap) Count() uint64 { return g.To - g.From + 1 }

// Gaps returns the runs of events missing from the sinks' queues that
// [Outbox.AckGaps] has not been told of, in queue order per sink.
func (o *Outbox) Gaps() ([]OutboxGap, error) {
	var out []OutboxGap
	err := o.bolt.View(func(tx *bolt.Tx) error {
		highest := u64(tx.Bucket(bucketOutboxMeta).Get(keySeq))
		qs := tx.Bucket(bucketQueue)
		return qs.ForEachBucket(func(name []byte) error {
			sink := string(name)
			q := qs.Bucket(name)
			acked := tx.Bucket(bucketGaps).Bucket(name)
			upTo, prev := delivered(tx, sink)
			next := upTo + 1
			add := func(to, before uint64) {
				// Runs reported already are skipped; a run growing past
				// one is reported from there.
				for acked != nil {
					end := u64(acked.Get(binary.BigEndian.AppendUint64(nil, next)))
					if end < next || end > to {
						break
					}
					next = end + 1
				}
				if next <= to {
					out = append(out, OutboxGap{Sink: sink, From: next, To: to, After: prev, Before: before})
				}
			}
			c := q.Cursor()
			for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, next)); k != nil; k, v = c.Next() {
				if n := u64(k); n > next {
					add(n-1, u64(v))
				}
				next, prev = u64(k)+1, u64(v)
			}
			if last := q.Sequence(); last >= next {
				add(last, highest+1)
			}
			return nil
		})
	})
	return out, err
}

// AckGaps records that gaps were reported: [Outbox.Gaps] leaves them out
// from now on.
func (o *Outbox) AckGaps(gaps []OutboxGap) error {
	if len(gaps) == 0 {
		return nil
	}
	return o.bolt.Update(func(tx *bolt.Tx) error {
		for _, g := range gaps {
			b, err := tx.Bucket(bucketGaps).CreateBucketIfNotExists([]byte(g.Sink))
			if err != nil {
				return err
			}
			if err := put64(b, string(binary.BigEndian.AppendUint64(nil, g.From)), g.To); err != nil {
				return err
			}
			// What delivery has passed can no longer be reported.
			upTo, _ := delivered(tx, g.Sink)
			var old [][]byte
			if err := b.ForEach(func(k, v []byte) error {
				if u64(v) <= upTo {
					old = append(old, append([]byte(nil), k...))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range old {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
