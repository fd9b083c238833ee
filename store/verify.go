package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Verifier recomputes the Merkle tree of nodes read from a baseline, in path
// order, and compares every directory hash and the root with what the
// baseline recorded. Feed it what an [Iter] returns.
type Verifier struct {
	info    Info
	version merkle.Version
	b       *merkle.Builder
	root    string
	want    merkle.Hash // stored hash of the current subtree's root
	stored  map[*merkle.Entry]merkle.Hash
	all     bool
	counts  Counts // of what was read, checked against info's (whole only)
	bad     []error
	// leaf is the last leaf node the Verifier hashed itself, from the
	// stored bytes (see [Verifier.LeafHash]).
	leaf merkle.Node
}

// NewVerifier returns a Verifier for baseline info; whole says the nodes
// will be the whole baseline, so the root is checked against info.Root too.
func NewVerifier(info Info, whole bool) *Verifier {
	return &Verifier{info: info, all: whole, version: merkle.V2, stored: map[*merkle.Entry]merkle.Hash{}}
}

// Add takes the next node.
func (v *Verifier) Add(n merkle.Node) {
	if v.b == nil || !merkle.Within(n.Entry.Path, v.root) {
		v.finishSubtree()
		v.b = merkle.NewBuilderVersion(v.version, v.check)
		v.root, v.want = n.Entry.Path, n.Hash
		if n.Entry.Type != merkle.TypeDir {
			if v.version == merkle.V1 {
				v.want, _ = merkle.LeafHashV1(n.Entry, nil)
			} else {
				v.want, _ = merkle.LeafHash(n.Entry, nil)
			}
		}
	}
	if n.Entry.Type == merkle.TypeDir {
		v.stored[n.Entry] = n.Hash
	}
	if v.all {
		v.counts.Add(n.Entry)
	}
	if err := v.b.Add(n.Entry); err != nil {
		v.bad = append(v.bad, err)
		v.b = nil
	}
}

func (v *Verifier) check(n merkle.Node) error {
	if n.Entry.Type != merkle.TypeDir {
		v.leaf = n
		return nil
	}
	if want := v.stored[n.Entry]; want != n.Hash {
		v.bad = append(v.bad, fmt.Errorf("%s: %w: directory hash", n.Entry.Path, ErrTampered))
	}
	delete(v.stored, n.Entry)
	return nil
}

// LeafHash returns the [merkle.LeafHash] of e if e is the last leaf entry
// added and the Verifier computed that hash itself from what was read (not
// the hash the baseline recorded); ok is false otherwise, or when the
// baseline's scheme is not [merkle.V2]. The caller must not have modified e
// since it was added.
func (v *Verifier) LeafHash(e *merkle.Entry) (h merkle.Hash, ok bool) {
	if v.leaf.Entry != e || e == nil || v.version != merkle.V2 {
		return merkle.Hash{}, false
	}
	return v.leaf.Hash, true
}

func (v *Verifier) finishSubtree() {
	if v.b == nil {
		return
	}
	got, err := v.b.Finish()
	switch {
	case err != nil:
		v.bad = append(v.bad, err)
	case got != v.want:
		v.bad = append(v.bad, fmt.Errorf("%s: %w: subtree hash", v.root, ErrTampered))
	case v.all && got != merkle.Hash(v.info.Root):
		v.bad = append(v.bad, fmt.Errorf("baseline %d: %w", v.info.ID, ErrTampered))
	}
	v.b = nil
}

// Finish returns every mismatch found, joined; nil if the baseline is
// intact.
func (v *Verifier) Finish() error {
	v.finishSubtree()
	if v.all && len(v.bad) == 0 && v.root != "/" && v.info.Root != (RootHash{}) {
		v.bad = append(v.bad, fmt.Errorf("baseline %d: %w: no root entry", v.info.ID, ErrTampered))
	}
	if v.all && v.counts != v.info.Counts {
		v.bad = append(v.bad, fmt.Errorf("baseline %d: %w: its counts (%d entries) are not what it holds (%d)", v.info.ID, ErrTampered, v.info.Counts.Entries, v.counts.Entries))
	}
	return errors.Join(v.bad...)
}

// Verify reads the whole baseline and checks it against its hashes.
func (b *Baseline) Verify() error {
	return verifyAll(NewVerifier(b.info, true), b.Iter())
}

// verifyAll feeds v everything it reads and returns v's verdict.
func verifyAll(v *Verifier, it *Iter) error {
	for {
		n, err := it.Next()
		if err != nil {
			return err
		}
		if n.Entry == nil {
			return v.Finish()
		}
		v.Add(n)
	}
}

// Check walks every bucket of the file checking that its keys are in
// order, checks the layout, and verifies every complete baseline. It
// returns every problem found, joined. (bbolt's own Tx.Check walks the
// pages in a goroutine of its own, where a fault on a damaged file's map
// crashes the process instead of becoming an error; walkKeys reads every
// key in this goroutine, guarded.)
func (db *DB) Check() error {
	var errs []error
	err := db.view(walkKeys)
	errs = append(errs, err)
	errs = append(errs, db.view(checkLayout))
	errs = append(errs, db.view(db.checkContent))
	errs = append(errs, db.warnings...)
	infos, err := db.Baselines()
	errs = append(errs, err)
	for _, in := range infos {
		b, err := db.Baseline(in.ID)
		if err == nil {
			err = b.Verify()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("baseline %d: %w", in.ID, err))
		}
	}
	return errors.Join(errs...)
}

// checkLayout checks what the records' layout promises beyond the hashes:
// every baseline's epoch exists, every journal entry names a version that
// exists, and no record version is newer than the newest baseline that
// wrote anything (what a crashed write leaves is deleted before the next
// one starts).
func checkLayout(tx *bolt.Tx) error {
	all, err := allInfos(tx)
	if err != nil {
		return err
	}
	var errs []error
	var newest uint64
	for _, in := range all {
		if epoch(tx, in.Epoch) == nil {
			errs = append(errs, fmt.Errorf("baseline %d: %w: its epoch %d is missing", in.ID, ErrCorrupt, in.Epoch))
		}
		newest = max(newest, in.ID)
	}
	errs = append(errs, checkNixTrees(tx, all)...)
	err = tx.Bucket(bucketEpochs).ForEachBucket(func(k []byte) error {
		rb, jb, err := epochBuckets(tx.Bucket(bucketEpochs).Bucket(k))
		if err != nil {
			return fmt.Errorf("epoch %x: %w", k, err)
		}
		c := jb.Cursor()
		for jk, jv := c.First(); jk != nil; jk, jv = c.Next() {
			if len(jv) != 0 {
				errs = append(errs, fmt.Errorf("epoch %x: %w: journal entry %x holds a value", k, ErrCorrupt, jk))
			}
			if len(jk) < 9 || rb.Get(verKeyOf(jk[8:], binary.BigEndian.Uint64(jk))) == nil {
				errs = append(errs, fmt.Errorf("epoch %x: %w: journal entry %x names no record", k, ErrCorrupt, jk))
			}
		}
		rc := rb.Cursor()
		var prev []byte
		for rk, _ := rc.First(); rk != nil; rk, _ = rc.Next() {
			_, id, ok := splitVerKey(rk)
			switch {
			case prev != nil && bytes.Compare(rk, prev) <= 0:
				return fmt.Errorf("epoch %x: %w", k, corruptKey(rk, "key out of order"))
			case !ok:
				errs = append(errs, fmt.Errorf("epoch %x: %w", k, corruptKey(rk, "not a version key")))
			case id == 0:
				errs = append(errs, fmt.Errorf("epoch %x: %w: record %q of baseline 0, which no baseline can be", k, ErrCorrupt, keyPath(rk[:len(rk)-verSuffix])))
			case id > newest:
				errs = append(errs, fmt.Errorf("epoch %x: %w: record %q of baseline %d, newer than any", k, ErrCorrupt, keyPath(rk[:len(rk)-verSuffix]), id))
			}
			prev = rk
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// walkKeys reads every key of every bucket in tx, failing on one that is
// not after the key before it.
func walkKeys(tx *bolt.Tx) error {
	var walk func(name []byte, b *bolt.Bucket) error
	walk = func(name []byte, b *bolt.Bucket) error {
		c := b.Cursor()
		var prev []byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if prev != nil && bytes.Compare(k, prev) <= 0 {
				return fmt.Errorf("bucket %q: %w", name, corruptKey(k, "key out of order"))
			}
			prev = k
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					if err := walk(k, sub); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return tx.ForEach(walk)
}
