package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// batchEntries is how many records a [Writer] puts per write transaction.
const batchEntries = 16384

// Writer writes a new baseline beside the current one. Nothing it writes is
// visible as a baseline until [Writer.Commit]; a Writer that is abandoned
// (or a process killed while writing) leaves an incomplete baseline that the
// next writer deletes.
//
// A whole baseline ([DB.Create]) is given every node with [Writer.Add]. A
// delta ([DB.CreateDelta]) is given only what differs from its parent:
// [Writer.Put] for each node added or changed, [Writer.Delete] for each path
// removed; everything else it shares with the parent.
type Writer struct {
	db     *DB
	info   Info
	delta  bool
	arena  []byte
	kv     []span // key and value positions in arena
	counts Counts
	// content is the kept content not yet written, by hash, compressed
	// (see [Writer.PutContent]); contentBytes its size.
	content      map[merkle.Hash][]byte
	contentBytes int
	// nixRecords are the records of the Nix tree to write with the
	// commit ([Writer.SetNixTree]).
	nixRecords []NixRecord
}

type span struct{ k0, k1, v1 int }

// Create starts a new whole baseline described by info (its ID, Epoch,
// Complete, Root and Counts are filled in by the Writer). It deletes the
// remains of baselines that were never committed.
func (db *DB) Create(info Info) (*Writer, error) {
	return db.create(info, nil)
}

// CreateDelta starts a new baseline that records only its differences from
// parent, which must be the newest baseline (updates are a line, not a
// tree). Its counts start from the parent's.
func (db *DB) CreateDelta(info Info, parent *Baseline) (*Writer, error) {
	return db.create(info, parent)
}

func (db *DB) create(info Info, parent *Baseline) (*Writer, error) {
	if err := db.collect(); err != nil {
		return nil, fmt.Errorf("create baseline: %w", err)
	}
	w := &Writer{db: db, info: info, delta: parent != nil}
	err := db.update(func(tx *bolt.Tx) error {
		if err := markSchema(tx); err != nil {
			return err
		}
		bs := tx.Bucket(bucketBaselines)
		if parent != nil {
			all, err := allInfos(tx)
			if err != nil {
				return err
			}
			if n := len(all); n == 0 || all[n-1].ID != parent.info.ID {
				return fmt.Errorf("baseline %d is not the newest: %w", parent.info.ID, ErrNotFound)
			}
			w.counts = parent.info.Counts
		}
		id, err := bs.NextSequence()
		if err != nil {
			return err
		}
		w.info.ID, w.info.Complete, w.info.Epoch = id, false, id
		if parent != nil {
			w.info.Epoch, w.info.Parent = parent.info.Epoch, parent.info.ID
		} else {
			eb, err := tx.Bucket(bucketEpochs).CreateBucket(idKey(id))
			if err != nil {
				return err
			}
			if _, err := eb.CreateBucket(bucketRecords); err != nil {
				return err
			}
			if _, err := eb.CreateBucket(bucketJournal); err != nil {
				return err
			}
		}
		return putInfo(bs, w.info)
	})
	if err != nil {
		return nil, fmt.Errorf("create baseline: %w", err)
	}
	return w, nil
}

// ID returns the id of the baseline being written.
func (w *Writer) ID() uint64 { return w.info.ID }

// Add adds a node of a whole baseline. Nodes may come in any order (a
// [merkle.Builder] hands out directories after their subtrees); each path
// once.
func (w *Writer) Add(n merkle.Node) error { return w.Put(n, nil) }

// Put records node n, which replaces old (nil if the path is new).
func (w *Writer) Put(n merkle.Node, old *merkle.Entry) error {
	var h *merkle.Hash
	if n.Entry.Type == merkle.TypeDir {
		h = &n.Hash
	}
	if old != nil {
		w.counts.Sub(old)
	}
	w.counts.Add(n.Entry)
	return w.put(n.Entry.Path, func(b []byte) []byte { return appendRecord(b, n.Entry, h) })
}

// Delete records that old's path is gone (a delta only).
func (w *Writer) Delete(old *merkle.Entry) error {
	if !w.delta {
		return fmt.Errorf("%s: delete in a whole baseline", old.Path)
	}
	w.counts.Sub(old)
	return w.put(old.Path, func(b []byte) []byte { return append(b, tombstone...) })
}

func (w *Writer) put(path string, value func([]byte) []byte) error {
	k0 := len(w.arena)
	w.arena = appendKey(w.arena, path)
	k1 := len(w.arena)
	w.arena = value(w.arena)
	w.kv = append(w.kv, span{k0, k1, len(w.arena)})
	w.info.Changes++
	if len(w.kv) >= batchEntries {
		return w.flush()
	}
	return nil
}

// flush writes the buffered records in one transaction, in key order, and
// for a delta notes each in the journal.
func (w *Writer) flush() error {
	if len(w.kv) == 0 && len(w.content) == 0 {
		return nil
	}
	a := w.arena
	slices.SortFunc(w.kv, func(x, y span) int { return bytes.Compare(a[x.k0:x.k1], a[y.k0:y.k1]) })
	err := w.db.update(func(tx *bolt.Tx) error {
		eb := epoch(tx, w.info.Epoch)
		if eb == nil || tx.Bucket(bucketBaselines).Get(idKey(w.info.ID)) == nil {
			return fmt.Errorf("baseline %d: %w", w.info.ID, ErrNotFound)
		}
		rb, jb := eb.Bucket(bucketRecords), eb.Bucket(bucketJournal)
		if rb == nil || jb == nil {
			return fmt.Errorf("epoch %d: %w: buckets missing", w.info.Epoch, ErrCorrupt)
		}
		rb.FillPercent = 0.9
		jb.FillPercent = 0.9
		if err := w.putContent(tx); err != nil {
			return err
		}
		for i, s := range w.kv {
			pk := a[s.k0:s.k1]
			if i > 0 && bytes.Equal(pk, a[w.kv[i-1].k0:w.kv[i-1].k1]) {
				return fmt.Errorf("%s: %w", keyPath(pk), merkle.ErrUnsorted)
			}
			if err := rb.Put(verKeyOf(pk, w.info.ID), a[s.k1:s.v1]); err != nil {
				return fmt.Errorf("%s: %w", keyPath(pk), err)
			}
			if w.delta {
				if err := jb.Put(journalKey(w.info.ID, pk), nil); err != nil {
					return fmt.Errorf("%s: %w", keyPath(pk), err)
				}
			}
		}
		return nil
	})
	w.kv, w.arena = w.kv[:0], w.arena[:0]
	w.content, w.contentBytes = nil, 0
	if err != nil {
		return fmt.Errorf("write baseline %d: %w", w.info.ID, err)
	}
	return nil
}

// Sealing is what a commit may carry besides the baseline: its signed
// statement and a record for the audit log, written in the same
// transaction.
type Sealing struct {
	Signature []byte
	SignedBy  string
	// Audit, if set, is appended to the audit log.
	Audit []byte
}

// Pending returns the baseline's info as [Writer.Commit] with root would
// record it, buffered entries counted.
func (w *Writer) Pending(root merkle.Hash) Info {
	in := w.info
	in.Root, in.Counts, in.Complete = RootHash(root), w.counts, true
	return in
}

// Commit writes what is buffered, marks the baseline complete with the given
// root hash and makes it current, in one final transaction: either the new
// baseline is current, or the old one still is. The oldest baselines beyond
// keep (keep < 1 means 1) are then pruned, and the records only they used
// freed.
func (w *Writer) Commit(root merkle.Hash, keep int) (Info, error) {
	return w.CommitSealed(root, keep, Sealing{})
}

// CommitSealed is [Writer.Commit] with a signature and an audit record
// written in the same transaction.
func (w *Writer) CommitSealed(root merkle.Hash, keep int, s Sealing) (Info, error) {
	if err := w.flush(); err != nil {
		return Info{}, err
	}
	w.info.Root, w.info.Counts, w.info.Complete = RootHash(root), w.counts, true
	w.info.Signature, w.info.SignedBy = s.Signature, s.SignedBy
	err := w.db.update(func(tx *bolt.Tx) error {
		if s.Audit != nil {
			if _, err := appendAudit(tx, s.Audit); err != nil {
				return err
			}
		}
		bs := tx.Bucket(bucketBaselines)
		if bs.Get(idKey(w.info.ID)) == nil {
			return fmt.Errorf("baseline %d: %w", w.info.ID, ErrNotFound)
		}
		if err := w.putNixTree(tx); err != nil {
			return err
		}
		if err := putInfo(bs, w.info); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyCurrent, idKey(w.info.ID)); err != nil {
			return err
		}
		if err := prune(tx, max(keep, 1)); err != nil {
			return err
		}
		return pruneNix(tx)
	})
	if err != nil {
		return Info{}, fmt.Errorf("commit baseline %d: %w", w.info.ID, err)
	}
	if err := w.db.collect(); err != nil {
		return w.info, fmt.Errorf("baseline %d committed; freeing pruned records: %w", w.info.ID, err)
	}
	return w.info, nil
}

// prune forgets the oldest complete baselines beyond keep; their records
// are freed by [DB.collect]. The current one is the newest, so it is always
// kept.
func prune(tx *bolt.Tx, keep int) error {
	all, err := allInfos(tx)
	if err != nil {
		return err
	}
	var complete []uint64
	for _, in := range all {
		if in.Complete {
			complete = append(complete, in.ID)
		}
	}
	bs := tx.Bucket(bucketBaselines)
	for len(complete) > keep {
		if err := bs.Delete(idKey(complete[0])); err != nil {
			return err
		}
		complete = complete[1:]
	}
	return nil
}

// Abort deletes the unfinished baseline.
func (w *Writer) Abort() error {
	w.kv, w.arena, w.content = nil, nil, nil
	err := w.db.update(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketBaselines).Get(idKey(w.info.ID))
		if raw == nil {
			return nil
		}
		in, err := decodeInfo(raw, w.info.ID)
		if err != nil {
			return err
		}
		in.Complete = false // already: marks it for collect
		return putInfo(tx.Bucket(bucketBaselines), in)
	})
	if err != nil {
		return err
	}
	return w.db.collect()
}

// SetSnapshots replaces the snapshots the baseline will record.
func (w *Writer) SetSnapshots(s []Snapshot) { w.info.Snapshots = s }

// SetPortableRoot records the root of the new baseline's portable tree,
// before Pending and the commit.
func (w *Writer) SetPortableRoot(h merkle.Hash) { w.info.PortableRoot = RootHash(h) }
