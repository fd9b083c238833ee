package store

import (
	bolt "go.etcd.io/bbolt"
)

// QueuedRun is what a sink's queue holds: how many events, and the host
// sequence numbers of its oldest and newest.
type QueuedRun struct {
	Sink        string
	Count       uint64
	First, Last uint64
}

// Queued returns, per sink with events waiting, what its queue holds.
func (o *Outbox) Queued() ([]QueuedRun, error) {
	var out []QueuedRun
	err := o.bolt.View(func(tx *bolt.Tx) error {
		qs := tx.Bucket(bucketQueue)
		return qs.ForEachBucket(func(name []byte) error {
			c := qs.Bucket(name).Cursor()
			k, first := c.First()
			_, last := c.Last()
			if k == nil {
				return nil
			}
			out = append(out, QueuedRun{Sink: string(name), Count: u64(tx.Bucket(bucketDepth).Get(name)), First: u64(first), Last: u64(last)})
			return nil
		})
	})
	return out, err
}
