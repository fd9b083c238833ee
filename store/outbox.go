package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Outbox is the watch daemon's durable queue of events, one queue per sink,
// in a bbolt file of its own beside the baseline database: the daemon owns
// it and holds it open for writing, while the baseline database stays free
// for vigil check, update and status. It implements alerts.Outbox.
//
// Bucket "queue" holds one bucket per sink: key the entry's number in that
// queue (8 bytes, big-endian, from the bucket's sequence: contiguous), value
// the event's host sequence number (8 bytes, see [Outbox.Sequence]) and its
// JSON. See sequence.go for the sequence and the gap check.
// Bucket "depth" maps a sink to its queue's length, "dropped" a sink to the
// count (and first and last time) of events its full queue turned away,
// "alerted" a path to what the daemon last alerted on it ([AlertState]).
type Outbox struct {
	bolt *bolt.DB
	max  int
}

var (
	bucketQueue   = []byte("queue")
	bucketDepth   = []byte("depth")
	bucketDropped = []byte("dropped")
)

// DefaultOutboxMax is the default bound of each sink's queue.
const DefaultOutboxMax = 100_000

// OpenOutbox opens (creating it, 0600) the outbox at path; max bounds each
// sink's queue (0 means [DefaultOutboxMax]). A second process opening it
// gets [ErrLocked] after a second.
func OpenOutbox(path string, max int) (*Outbox, error) {
	if max <= 0 {
		max = DefaultOutboxMax
	}
	// The free pages are not written at each commit but found again at
	// the open (a scan of a small file): a queue that is appended to and
	// drained all the time frees pages at every delivery.
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrLocked}
	}
	if err != nil {
		return nil, err
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketQueue, bucketDepth, bucketDropped, bucketOutboxMeta, bucketDelivered, bucketGaps} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return migrateOutbox(tx)
	})
	if err != nil {
		return nil, errors.Join(&fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}, b.Close())
	}
	return &Outbox{bolt: b, max: max}, nil
}

// Close closes the outbox file.
func (o *Outbox) Close() error { return o.bolt.Close() }

func u64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func put64(b *bolt.Bucket, key string, v uint64) error {
	return b.Put([]byte(key), binary.BigEndian.AppendUint64(nil, v))
}

// Append queues each entry's data for each of its sinks, all in one
// transaction, synced to disk before it returns. Each entry gets the next
// host sequence number (see [Outbox.Sequence]) in that transaction. A full
// queue counts the event as dropped instead.
func (o *Outbox) Append(entries []OutboxEntry, at time.Time) error {
	return o.bolt.Update(func(tx *bolt.Tx) error {
		qs, depth, dropped := tx.Bucket(bucketQueue), tx.Bucket(bucketDepth), tx.Bucket(bucketDropped)
		meta := tx.Bucket(bucketOutboxMeta)
		seq := u64(meta.Get(keySeq))
		for _, e := range entries {
			seq++
			data := e.Data
			if e.Encode != nil {
				var err error
				if data, err = e.Encode(seq); err != nil {
					return err
				}
			}
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(data)), seq)
			v = append(v, data...)
			for _, s := range e.Sinks {
				if err := o.append(qs, depth, dropped, s, v, at, e.Path); err != nil {
					return err
				}
			}
		}
		return meta.Put(keySeq, binary.BigEndian.AppendUint64(nil, seq))
	})
}

// queueFill is the fill of a sink queue's pages when they split.
const queueFill = 0.95

// OutboxEntry is one event for [Outbox.Append] and the sinks it is for.
type OutboxEntry struct {
	Sinks []string
	// Data is the event; if Encode is set, it is called instead, in the
	// transaction, with the event's host sequence number.
	Data   []byte
	Encode func(seq uint64) ([]byte, error)
	// Path is the path the event is about, if any: a full queue's
	// dropped count names the first few (see [Outbox.DroppedPaths]).
	Path string
}

func (o *Outbox) append(qs, depth, dropped *bolt.Bucket, s string, data []byte, at time.Time, path string) error {
	n := u64(depth.Get([]byte(s)))
	if n >= uint64(o.max) {
		if err := dropPath(dropped.Tx(), s, path); err != nil {
			return err
		}
		return countDropped(dropped, s, at)
	}
	q, err := qs.CreateBucketIfNotExists([]byte(s))
	if err != nil {
		return err
	}
	// Keys only ever grow: pages split full, not half empty, so that a
	// burst's events take half the pages to write (bbolt's default is
	// for keys put anywhere).
	q.FillPercent = queueFill
	seq, err := q.NextSequence()
	if err != nil {
		return err
	}
	if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), data); err != nil {
		return err
	}
	return put64(depth, s, n+1)
}

// countDropped adds one to sink's dropped count, at time at.
func countDropped(b *bolt.Bucket, sink string, at time.Time) error {
	v := b.Get([]byte(sink))
	n, first := uint64(0), uint64(at.UnixNano())
	if len(v) == 24 {
		n, first = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	}
	out := binary.BigEndian.AppendUint64(nil, n+1)
	out = binary.BigEndian.AppendUint64(out, first)
	out = binary.BigEndian.AppendUint64(out, uint64(at.UnixNano()))
	return b.Put([]byte(sink), out)
}

// Pending returns up to max of sink's oldest queued events, as sequence
// numbers and copies of their data.
func (o *Outbox) Pending(sink string, max int) (seqs []uint64, data [][]byte, err error) {
	err = o.bolt.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue).Bucket([]byte(sink))
		if q == nil {
			return nil
		}
		c := q.Cursor()
		for k, v := c.First(); k != nil && len(seqs) < max; k, v = c.Next() {
			if len(v) < 8 {
				return fmt.Errorf("outbox %s entry %d: %w", sink, u64(k), ErrCorrupt)
			}
			seqs = append(seqs, u64(k))
			data = append(data, append([]byte(nil), v[8:]...))
		}
		return nil
	})
	return seqs, data, err
}

// Remove deletes sink's events seqs.
func (o *Outbox) Remove(sink string, seqs ...uint64) error {
	return o.bolt.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue).Bucket([]byte(sink))
		if q == nil {
			return nil
		}
		depth := tx.Bucket(bucketDepth)
		n := u64(depth.Get([]byte(sink)))
		upTo, upToSeq := delivered(tx, sink)
		for _, s := range seqs {
			k := binary.BigEndian.AppendUint64(nil, s)
			v := q.Get(k)
			if v == nil {
				continue
			}
			if s > upTo {
				upTo, upToSeq = s, u64(v)
			}
			if err := q.Delete(k); err != nil {
				return err
			}
			n--
		}
		if err := setDelivered(tx, sink, upTo, upToSeq); err != nil {
			return err
		}
		return put64(depth, sink, n)
	})
}

// Depth returns how many events wait for sink.
func (o *Outbox) Depth(sink string) (int, error) {
	var n uint64
	err := o.bolt.View(func(tx *bolt.Tx) error {
		n = u64(tx.Bucket(bucketDepth).Get([]byte(sink)))
		return nil
	})
	return int(n), err
}

// Dropped returns how many events sink's full queue turned away, and when
// the first and last came.
func (o *Outbox) Dropped(sink string) (n int64, first, last time.Time, err error) {
	err = o.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDropped).Get([]byte(sink))
		if len(v) == 24 {
			n = int64(binary.BigEndian.Uint64(v))
			first = time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
			last = time.Unix(0, int64(binary.BigEndian.Uint64(v[16:])))
		}
		return nil
	})
	return n, first, last, err
}

// ForgetDropped subtracts n from sink's dropped count (the summary of
// those n was delivered); what was dropped meanwhile stays counted.
func (o *Outbox) ForgetDropped(sink string, n int64) error {
	return o.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDropped)
		v := b.Get([]byte(sink))
		if len(v) != 24 {
			return nil
		}
		if err := forgetDroppedPaths(tx, sink); err != nil {
			return err
		}
		left := int64(binary.BigEndian.Uint64(v)) - n
		if left <= 0 {
			return b.Delete([]byte(sink))
		}
		out := binary.BigEndian.AppendUint64(nil, uint64(left))
		out = append(out, v[16:]...) // the first left is after the last summary
		out = append(out, v[16:]...)
		return b.Put([]byte(sink), out)
	})
}

// bucketAlerted maps each path the daemon alerted on to the state of its
// last alert (and, after a NUL, its count of resolved findings), so that a
// restart neither repeats a standing alert nor misses a resolve.
var bucketAlerted = []byte("alerted")

// AlertState is what the daemon remembers of one path.
type AlertState struct {
	State    string // empty: no standing alert
	Resolved int    // findings resolved so far
}

func putAlerts(tx *bolt.Tx, m map[string]AlertState) error {
	if len(m) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketAlerted)
	if err != nil {
		return err
	}
	for p, s := range m {
		if s == (AlertState{}) {
			if err := b.Delete([]byte(p)); err != nil {
				return err
			}
			continue
		}
		v := binary.AppendUvarint(nil, uint64(s.Resolved))
		if err := b.Put([]byte(p), append(v, s.State...)); err != nil {
			return err
		}
	}
	return nil
}

// Alerts returns every path's saved state.
func (o *Outbox) Alerts() (map[string]AlertState, error) {
	out := map[string]AlertState{}
	err := o.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerted)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n, used := binary.Uvarint(v)
			if used <= 0 {
				return fmt.Errorf("alerted %q: %w", k, ErrCorrupt)
			}
			out[string(k)] = AlertState{State: string(v[used:]), Resolved: int(n)}
			return nil
		})
	})
	return out, err
}
