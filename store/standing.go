package store

import bolt "go.etcd.io/bbolt"

// bucketStanding maps each path with a standing alert to that alert (its
// JSON), so that a sink added later can be sent what still stands.
var bucketStanding = []byte("standing")

// SaveAlertsAndStanding writes, in one transaction (one sync to disk),
// the alert states of the paths in states (a zero [AlertState] deletes
// the path's) and the standing alerts of the paths in standing (a nil
// value deletes the path's).
func (o *Outbox) SaveAlertsAndStanding(states map[string]AlertState, standing map[string][]byte) error {
	if len(states) == 0 && len(standing) == 0 {
		return nil
	}
	return o.bolt.Update(func(tx *bolt.Tx) error {
		if err := putAlerts(tx, states); err != nil {
			return err
		}
		return putStanding(tx, standing)
	})
}

func putStanding(tx *bolt.Tx, m map[string][]byte) error {
	if len(m) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketStanding)
	if err != nil {
		return err
	}
	for p, v := range m {
		if v == nil {
			err = b.Delete([]byte(p))
		} else {
			err = b.Put([]byte(p), v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Standing returns every path's saved standing alert.
func (o *Outbox) Standing() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := o.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStanding)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}
