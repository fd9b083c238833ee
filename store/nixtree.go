package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketNix holds the Nix trees' records: one bucket per tree, named by
// its root, holding one record per store path (the path, the canonical
// record internal/nixtree encodes). Baselines with the same root share
// it; a tree no baseline names is deleted when a commit prunes.
var bucketNix = []byte("nix")

// NixTree is what a baseline records of the Nix store's sealed records
// (see internal/nixtree): the root of their tree, which the baseline's
// signed statement carries, and how many records it has. The records
// themselves are in the database beside the baselines, not in the Info
// (100,000 store paths would be 20 MB decoded with every baseline).
type NixTree struct {
	Root  RootHash `json:"root"`
	Paths int64    `json:"paths"`
}

// NixRecord is one record of a Nix tree: a store path and its canonical
// record.
type NixRecord struct {
	Path string
	Data []byte
}

// SetNixTree makes the baseline record the Nix tree t (nil: none). With
// records (in path order), they are written with the commit, in its
// transaction: a baseline never names a tree whose records are not
// stored. Without, the tree must be one an earlier baseline wrote (an
// update that did not change it).
func (w *Writer) SetNixTree(t *NixTree, records []NixRecord) {
	w.info.Nix, w.nixRecords = t, records
}

// putNixTree writes the records of w's Nix tree, if given, replacing a
// bucket of the same root; else checks that the tree's records are
// stored.
func (w *Writer) putNixTree(tx *bolt.Tx) error {
	t := w.info.Nix
	if t == nil {
		return nil
	}
	nb, err := tx.CreateBucketIfNotExists(bucketNix)
	if err != nil {
		return err
	}
	if w.nixRecords == nil {
		if nb.Bucket(t.Root[:]) == nil {
			return fmt.Errorf("nix tree %s: %w: its records are not stored", t.Root, ErrNotFound)
		}
		return nil
	}
	if nb.Bucket(t.Root[:]) != nil {
		if err := nb.DeleteBucket(t.Root[:]); err != nil {
			return err
		}
	}
	rb, err := nb.CreateBucket(t.Root[:])
	if err != nil {
		return err
	}
	rb.FillPercent = 1 // written in key order, never updated
	for i, r := range w.nixRecords {
		if i > 0 && w.nixRecords[i-1].Path >= r.Path {
			return fmt.Errorf("nix record %s: out of order", r.Path)
		}
		if err := rb.Put([]byte(r.Path), r.Data); err != nil {
			return fmt.Errorf("nix record %s: %w", r.Path, err)
		}
	}
	return nil
}

// pruneNix deletes the Nix trees no baseline names.
func pruneNix(tx *bolt.Tx) error {
	nb := tx.Bucket(bucketNix)
	if nb == nil {
		return nil
	}
	all, err := allInfos(tx)
	if err != nil {
		return err
	}
	named := map[RootHash]bool{}
	for _, in := range all {
		if in.Nix != nil {
			named[in.Nix.Root] = true
		}
	}
	var gone [][]byte
	err = nb.ForEachBucket(func(k []byte) error {
		var r RootHash
		if len(k) != len(r) || !named[RootHash(k)] {
			gone = append(gone, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range gone {
		if err == nil {
			err = nb.DeleteBucket(k)
		}
	}
	return err
}

// NixRecords calls fn with each record of the baseline's Nix tree, in
// path order, in one read transaction; the bytes are fn's to keep. A
// baseline with no Nix tree has none; one whose records are missing is
// [ErrCorrupt].
func (b *Baseline) NixRecords(fn func(NixRecord) error) error {
	t := b.info.Nix
	if t == nil {
		return nil
	}
	return b.db.view(func(tx *bolt.Tx) error {
		var rb *bolt.Bucket
		if nb := tx.Bucket(bucketNix); nb != nil {
			rb = nb.Bucket(t.Root[:])
		}
		if rb == nil {
			return fmt.Errorf("baseline %d: %w: the records of its Nix tree %s are missing", b.info.ID, ErrCorrupt, t.Root)
		}
		return rb.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("baseline %d: %w: a bucket %q in its Nix tree", b.info.ID, ErrCorrupt, k)
			}
			return fn(NixRecord{Path: string(k), Data: bytes.Clone(v)})
		})
	})
}

// checkNixTrees reports the baselines whose Nix tree's records are
// missing.
func checkNixTrees(tx *bolt.Tx, all []Info) []error {
	var errs []error
	nb := tx.Bucket(bucketNix)
	for _, in := range all {
		if in.Nix == nil || !in.Complete {
			continue
		}
		if nb == nil || nb.Bucket(in.Nix.Root[:]) == nil {
			errs = append(errs, fmt.Errorf("baseline %d: %w: the records of its Nix tree %s are missing", in.ID, ErrCorrupt, in.Nix.Root))
		}
	}
	return errs
}
