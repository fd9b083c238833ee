package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// collectBatch is how many journal entries one freeing transaction handles.
const collectBatch = 8192

// collect frees what no complete baseline uses: the records of baselines
// whose write was abandoned, epochs no kept baseline belongs to, and record
// versions that every kept baseline sees past. Each step is its own short
// transaction and may be repeated, so a process killed in the middle leaves
// work that the next call finishes, and nothing a kept baseline reads is
// ever touched.
func (db *DB) collect() error {
	var needed bool
	if err := db.view(func(tx *bolt.Tx) error {
		var err error
		needed, err = collectNeeded(tx)
		return err
	}); err != nil || !needed {
		return err // nothing to free: no write transaction, no fsync
	}
	for {
		var done bool
		err := db.update(func(tx *bolt.Tx) error {
			var err error
			done, err = collectStep(tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: free unused records: %w", db.path, err)
		}
		if done {
			return nil
		}
	}
}

// collectStep does one bounded piece of collect's work; done says there
// was none left.
func collectStep(tx *bolt.Tx) (done bool, err error) {
	all, err := allInfos(tx)
	if err != nil {
		return false, err
	}
	bs, es := tx.Bucket(bucketBaselines), tx.Bucket(bucketEpochs)
	for _, in := range all {
		if in.Complete {
			continue
		}
		if in.Epoch == in.ID { // a whole baseline: its epoch goes with it
			if es.Bucket(idKey(in.ID)) != nil {
				if err := es.DeleteBucket(idKey(in.ID)); err != nil {
					return false, err
				}
			}
			return false, bs.Delete(idKey(in.ID))
		}
		n, err := undoDelta(tx, in)
		if err != nil || n == collectBatch {
			return false, err
		}
		return false, bs.Delete(idKey(in.ID))
	}
	oldest := map[uint64]uint64{} // epoch -> its oldest complete baseline
	for _, in := range all {
		if _, ok := oldest[in.Epoch]; !ok {
			oldest[in.Epoch] = in.ID
		}
	}
	var dead [][]byte
	err = es.ForEachBucket(func(k []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: epoch key %x", ErrCorrupt, k)
		}
		if _, ok := oldest[binary.BigEndian.Uint64(k)]; !ok {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, k := range dead {
		if err := es.DeleteBucket(k); err != nil {
			return false, err
		}
	}
	if len(dead) > 0 {
		return false, nil
	}
	for e, min := range oldest {
		n, err := freeSuperseded(epoch(tx, e), min)
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// epochBuckets returns an epoch's records and journal.
func epochBuckets(eb *bolt.Bucket) (rb, jb *bolt.Bucket, err error) {
	if eb == nil {
		return nil, nil, fmt.Errorf("%w: epoch missing", ErrCorrupt)
	}
	rb, jb = eb.Bucket(bucketRecords), eb.Bucket(bucketJournal)
	if rb == nil || jb == nil {
		return nil, nil, fmt.Errorf("%w: epoch buckets missing", ErrCorrupt)
	}
	return rb, jb, nil
}

// undoDelta deletes up to collectBatch of the records an abandoned delta
// wrote, with their journal entries, and returns how many it deleted.
func undoDelta(tx *bolt.Tx, in Info) (int, error) {
	eb := epoch(tx, in.Epoch)
	if eb == nil {
		return 0, nil // its epoch is gone: nothing of it is left
	}
	rb, jb, err := epochBuckets(eb)
	if err != nil {
		return 0, err
	}
	prefix := idKey(in.ID)
	var keys [][]byte
	c := jb.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < collectBatch; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := rb.Delete(verKeyOf(k[8:], in.ID)); err != nil {
			return 0, err
		}
		if err := jb.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// freeSuperseded handles up to collectBatch journal entries of baselines
// no newer than min, the epoch's oldest kept baseline: the versions they
// replaced are seen by no kept baseline, and a deletion that old needs no
// tombstone. It returns how many entries it handled.
func freeSuperseded(eb *bolt.Bucket, min uint64) (int, error) {
	rb, jb, err := epochBuckets(eb)
	if err != nil {
		return 0, err
	}
	var jkeys [][]byte
	c := jb.Cursor()
	for k, _ := c.First(); k != nil && len(jkeys) < collectBatch; k, _ = c.Next() {
		if len(k) < 9 {
			return 0, fmt.Errorf("%w: journal key %x", ErrCorrupt, k)
		}
		if binary.BigEndian.Uint64(k) > min {
			break
		}
		jkeys = append(jkeys, bytes.Clone(k))
	}
	for _, jk := range jkeys {
		born, pk := binary.BigEndian.Uint64(jk), jk[8:]
		var dead [][]byte
		rc := rb.Cursor()
		for k, v := rc.Seek(verKeyOf(pk, 0)); k != nil; k, v = rc.Next() {
			kp, id, ok := splitVerKey(k)
			if !ok || !bytes.Equal(kp, pk) || id > born {
				break
			}
			if id < born || bytes.Equal(v, tombstone) {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			if err := rb.Delete(k); err != nil {
				return 0, err
			}
		}
		if err := jb.Delete(jk); err != nil {
			return 0, err
		}
	}
	return len(jkeys), nil
}

// collectNeeded reports whether collectStep has anything to do: an
// abandoned baseline, an epoch without baselines, or a journal entry of a
// baseline no newer than its epoch's oldest kept one.
func collectNeeded(tx *bolt.Tx) (bool, error) {
	all, err := allInfos(tx)
	if err != nil {
		return false, err
	}
	oldest := map[uint64]uint64{}
	for _, in := range all {
		if !in.Complete {
			return true, nil
		}
		if _, ok := oldest[in.Epoch]; !ok {
			oldest[in.Epoch] = in.ID
		}
	}
	needed := false
	err = tx.Bucket(bucketEpochs).ForEachBucket(func(k []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: epoch key %x", ErrCorrupt, k)
		}
		min, ok := oldest[binary.BigEndian.Uint64(k)]
		if !ok {
			needed = true
			return nil
		}
		_, jb, err := epochBuckets(tx.Bucket(bucketEpochs).Bucket(k))
		if err != nil {
			return err
		}
		if jk, _ := jb.Cursor().First(); len(jk) >= 8 && binary.BigEndian.Uint64(jk) <= min {
			needed = true
		}
		return nil
	})
	return needed, err
}
