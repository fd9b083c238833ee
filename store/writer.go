package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"vigil/merkle"
)

// batchEntries is how many entries a [Writer] puts per write transaction.
const batchEntries = 16384

// Writer writes a new baseline beside the current one. Nothing it writes is
// visible as a baseline until [Writer.Commit]; a Writer that is abandoned
// (or a process killed while writing) leaves an incomplete baseline that the
// next [DB.Create] deletes.
type Writer struct {
	db     *DB
	info   Info
	arena  []byte
	kv     []span // key and value positions in arena
	counts Counts
}

type span struct{ k0, k1, v1 int }

// Create starts a new baseline described by info (its ID, Complete, Root and
// Counts are filled in by the Writer). It deletes the remains of baselines
// that were never committed.
func (db *DB) Create(info Info) (*Writer, error) {
	w := &Writer{db: db, info: info}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucketBaselines)
		if err := deleteIncomplete(bs); err != nil {
			return err
		}
		id, err := bs.NextSequence()
		if err != nil {
			return err
		}
		w.info.ID, w.info.Complete = id, false
		bk, err := bs.CreateBucket(idKey(id))
		if err != nil {
			return err
		}
		if _, err := bk.CreateBucket(bucketEntries); err != nil {
			return err
		}
		return putInfo(bk, w.info)
	})
	if err != nil {
		return nil, fmt.Errorf("create baseline: %w", err)
	}
	return w, nil
}

func putInfo(bk *bolt.Bucket, in Info) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return bk.Put(keyInfo, raw)
}

// deleteIncomplete deletes baselines left unfinished.
func deleteIncomplete(bs *bolt.Bucket) error {
	var dead [][]byte
	err := bs.ForEachBucket(func(k []byte) error {
		in, err := readInfo(bs.Bucket(k), 0)
		if err != nil || !in.Complete {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range dead {
		if err := bs.DeleteBucket(k); err != nil {
			return err
		}
	}
	return err
}

// ID returns the id of the baseline being written.
func (w *Writer) ID() uint64 { return w.info.ID }

// Add adds a node. Nodes may come in any order (a [merkle.Builder] hands
// out directories after their subtrees); each path once.
func (w *Writer) Add(n merkle.Node) error {
	k0 := len(w.arena)
	w.arena = appendKey(w.arena, n.Entry.Path)
	k1 := len(w.arena)
	var h *merkle.Hash
	if n.Entry.Type == merkle.TypeDir {
		h = &n.Hash
	}
	w.arena = appendRecord(w.arena, n.Entry, h)
	w.kv = append(w.kv, span{k0, k1, len(w.arena)})
	w.counts.Add(n.Entry)
	if len(w.kv) >= batchEntries {
		return w.flush()
	}
	return nil
}

// flush writes the buffered entries in one transaction, in key order.
func (w *Writer) flush() error {
	if len(w.kv) == 0 {
		return nil
	}
	a := w.arena
	slices.SortFunc(w.kv, func(x, y span) int { return bytes.Compare(a[x.k0:x.k1], a[y.k0:y.k1]) })
	err := w.db.bolt.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBaselines).Bucket(idKey(w.info.ID))
		if bk == nil {
			return fmt.Errorf("baseline %d: %w", w.info.ID, ErrNotFound)
		}
		eb := bk.Bucket(bucketEntries)
		eb.FillPercent = 0.9
		for i, s := range w.kv {
			if i > 0 && bytes.Equal(a[s.k0:s.k1], a[w.kv[i-1].k0:w.kv[i-1].k1]) {
				return fmt.Errorf("%s: %w", keyPath(a[s.k0:s.k1]), merkle.ErrUnsorted)
			}
			if err := eb.Put(a[s.k0:s.k1], a[s.k1:s.v1]); err != nil {
				return fmt.Errorf("%s: %w", keyPath(a[s.k0:s.k1]), err)
			}
		}
		return nil
	})
	w.kv, w.arena = w.kv[:0], w.arena[:0]
	if err != nil {
		return fmt.Errorf("write baseline %d: %w", w.info.ID, err)
	}
	return nil
}

// Commit writes what is buffered, marks the baseline complete with the given
// root hash, makes it current and deletes the oldest baselines so that at
// most keep remain (keep < 1 means 1). It all happens in one final
// transaction: either the new baseline is current, or the old one still is.
func (w *Writer) Commit(root merkle.Hash, keep int) (Info, error) {
	if err := w.flush(); err != nil {
		return Info{}, err
	}
	w.info.Root, w.info.Counts, w.info.Complete = RootHash(root), w.counts, true
	err := w.db.bolt.Update(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucketBaselines)
		bk := bs.Bucket(idKey(w.info.ID))
		if bk == nil {
			return fmt.Errorf("baseline %d: %w", w.info.ID, ErrNotFound)
		}
		if err := putInfo(bk, w.info); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyCurrent, idKey(w.info.ID)); err != nil {
			return err
		}
		return prune(bs, max(keep, 1))
	})
	if err != nil {
		return Info{}, fmt.Errorf("commit baseline %d: %w", w.info.ID, err)
	}
	return w.info, nil
}

// prune deletes the oldest complete baselines beyond keep. The current one is
// the newest, so it is always kept.
func prune(bs *bolt.Bucket, keep int) error {
	var ids [][]byte
	err := bs.ForEachBucket(func(k []byte) error {
		ids = append(ids, bytes.Clone(k))
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(ids, func(a, b []byte) int {
		return cmp.Compare(binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b))
	})
	for len(ids) > keep {
		if err := bs.DeleteBucket(ids[0]); err != nil {
			return err
		}
		ids = ids[1:]
	}
	return nil
}

// Abort deletes the unfinished baseline.
func (w *Writer) Abort() error {
	w.kv, w.arena = nil, nil
	return w.db.bolt.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketBaselines).DeleteBucket(idKey(w.info.ID))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}
