package store

import (
	bolt "go.etcd.io/bbolt"
)

// bucketDroppedPaths holds, per sink, the first paths of the events its
// full queue turned away (keys; empty values), at most droppedPaths.
var bucketDroppedPaths = []byte("dropped_paths")

// droppedPaths bounds the paths kept per sink.
const droppedPaths = 20

// dropPath records path, if there is room, as one of sink's dropped.
func dropPath(tx *bolt.Tx, sink, path string) error {
	if path == "" {
		return nil
	}
	all, err := tx.CreateBucketIfNotExists(bucketDroppedPaths)
	if err != nil {
		return err
	}
	b, err := all.CreateBucketIfNotExists([]byte(sink))
	if err != nil {
		return err
	}
	if b.Get([]byte(path)) != nil || b.Stats().KeyN >= droppedPaths {
		return nil
	}
	return b.Put([]byte(path), []byte{})
}

// forgetDroppedPaths clears sink's dropped paths (their summary went out).
func forgetDroppedPaths(tx *bolt.Tx, sink string) error {
	all := tx.Bucket(bucketDroppedPaths)
	if all == nil || all.Bucket([]byte(sink)) == nil {
		return nil
	}
	return all.DeleteBucket([]byte(sink))
}

// DroppedPaths returns the first paths (at most 20, sorted) of the events
// sink's full queue turned away since its last summary.
func (o *Outbox) DroppedPaths(sink string) ([]string, error) {
	var out []string
	err := o.bolt.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketDroppedPaths)
		if all == nil {
			return nil
		}
		b := all.Bucket([]byte(sink))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
	})
	return out, err
}
