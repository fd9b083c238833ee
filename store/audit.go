package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// The audit log is an append-only Merkle log of records (RFC 6962 hashing,
// golang.org/x/mod/sumdb/tlog): bucket "audit" maps each record's index to
// its bytes, bucket "audit-hashes" holds the tree's stored hashes (tlog's
// storage index to hash), so that the tree hash of any prefix, and proofs
// between prefixes, cost O(log n) reads. A signed checkpoint of the log
// ("meta" key "checkpoint") commits to a size and tree hash: records before
// it cannot be changed, and a log cut back behind a checkpoint a verifier
// kept is caught.
var (
	bucketAudit       = []byte("audit")
	bucketAuditHashes = []byte("audit-hashes")
	keyCheckpoint     = []byte("checkpoint")
)

// AuditTree is the audit log's size and tree hash.
type AuditTree = tlog.Tree

// appendAudit appends rec to the audit log in tx and returns its index.
func appendAudit(tx *bolt.Tx, rec []byte) (int64, error) {
	ab, err := tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return 0, err
	}
	hb, err := tx.CreateBucketIfNotExists(bucketAuditHashes)
	if err != nil {
		return 0, err
	}
	var n int64
	if k, _ := ab.Cursor().Last(); k != nil {
		n = int64(binary.BigEndian.Uint64(k)) + 1
	}
	hashes, err := tlog.StoredHashes(n, rec, hashReader(hb))
	if err != nil {
		return 0, err
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if err := hb.Put(idKey(uint64(base+int64(i))), h[:]); err != nil {
			return 0, err
		}
	}
	return n, ab.Put(idKey(uint64(n)), rec)
}

// hashReader reads stored hashes from the audit hash bucket.
func hashReader(hb *bolt.Bucket) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			v := hb.Get(idKey(uint64(x)))
			if len(v) != tlog.HashSize {
				return nil, fmt.Errorf("%w: audit hash %d missing", ErrCorrupt, x)
			}
			copy(out[i][:], v)
		}
		return out, nil
	})
}

// auditSize returns the number of records in the audit log.
func auditSize(tx *bolt.Tx) int64 {
	ab := tx.Bucket(bucketAudit)
	if ab == nil {
		return 0
	}
	k, _ := ab.Cursor().Last()
	if k == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k)) + 1
}

// auditTree returns the tree of the audit log's first n records.
func auditTree(tx *bolt.Tx, n int64) (AuditTree, error) {
	if n == 0 {
		return AuditTree{}, nil
	}
	hb := tx.Bucket(bucketAuditHashes)
	if hb == nil {
		return AuditTree{}, fmt.Errorf("%w: audit hashes missing", ErrCorrupt)
	}
	h, err := tlog.TreeHash(n, hashReader(hb))
	return AuditTree{N: n, Hash: h}, err
}

// Audit returns the audit log's current tree.
func (db *DB) Audit() (AuditTree, error) {
	var t AuditTree
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		t, err = auditTree(tx, auditSize(tx))
		return err
	})
	return t, err
}

// AuditAt returns the tree of the audit log's first n records.
func (db *DB) AuditAt(n int64) (AuditTree, error) {
	var t AuditTree
	err := db.view(func(tx *bolt.Tx) error {
		if n > auditSize(tx) {
			return fmt.Errorf("audit log: %w: %d records, not %d", ErrNotFound, auditSize(tx), n)
		}
		var err error
		t, err = auditTree(tx, n)
		return err
	})
	return t, err
}

// AppendAudit appends one record to the audit log in its own transaction.
func (db *DB) AppendAudit(rec []byte) (int64, error) {
	var n int64
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		n, err = appendAudit(tx, rec)
		return err
	})
	return n, err
}

// AuditRecords calls fn with every audit record, oldest first.
func (db *DB) AuditRecords(fn func(i int64, rec []byte) error) error {
	return db.view(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAudit)
		if ab == nil {
			return nil
		}
		want := int64(0)
		return ab.ForEach(func(k, v []byte) error {
			if len(k) != 8 || int64(binary.BigEndian.Uint64(k)) != want {
				return fmt.Errorf("%w: audit record %x out of sequence (want %d)", ErrCorrupt, k, want)
			}
			want++
			return fn(want-1, bytes.Clone(v))
		})
	})
}

// VerifyAudit recomputes the audit log's hashes from its records and checks
// them against the stored ones, so that a record changed, added or removed
// in place is caught; it returns the tree.
func (db *DB) VerifyAudit() (AuditTree, error) {
	var t AuditTree
	err := db.view(func(tx *bolt.Tx) error {
		ab, hb := tx.Bucket(bucketAudit), tx.Bucket(bucketAuditHashes)
		if ab == nil {
			return nil
		}
		if hb == nil {
			return fmt.Errorf("%w: audit hashes missing", ErrCorrupt)
		}
		var n int64
		err := ab.ForEach(func(k, v []byte) error {
			if len(k) != 8 || int64(binary.BigEndian.Uint64(k)) != n {
				return fmt.Errorf("%w: audit record %x out of sequence (want %d)", ErrCorrupt, k, n)
			}
			want, err := tlog.StoredHashes(n, v, hashReader(hb))
			if err != nil {
				return err
			}
			base := tlog.StoredHashIndex(0, n)
			for i, h := range want {
				if got := hb.Get(idKey(uint64(base + int64(i)))); !bytes.Equal(got, h[:]) {
					return fmt.Errorf("audit record %d: %w: its hash does not match the log", n, ErrTampered)
				}
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		t, err = auditTree(tx, n)
		return err
	})
	return t, err
}

// ProveAudit returns the proof that the audit log's first n records are a
// prefix of its first m (tlog.CheckTree verifies it).
func (db *DB) ProveAudit(n, m int64) (tlog.TreeProof, error) {
	var p tlog.TreeProof
	err := db.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketAuditHashes)
		if hb == nil || m > auditSize(tx) {
			return fmt.Errorf("audit log: %w: no %d records", ErrNotFound, m)
		}
		var err error
		p, err = tlog.ProveTree(m, n, hashReader(hb))
		return err
	})
	return p, err
}

// SetCheckpoint stores the signed checkpoint of the audit log.
func (db *DB) SetCheckpoint(signed []byte) error {
	return db.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyCheckpoint, signed) })
}

// Checkpoint returns the stored signed checkpoint, nil if there is none.
func (db *DB) Checkpoint() ([]byte, error) {
	var out []byte
	err := db.view(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bucketMeta).Get(keyCheckpoint))
		return nil
	})
	return out, err
}
