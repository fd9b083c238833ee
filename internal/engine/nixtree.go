package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/zeebo/blake3"

	"vigil/internal/nix"
	"vigil/internal/nixtree"
	"vigil/merkle"
	"vigil/store"
)

// noteNix remembers the entry the new tree holds for the Nix snapshot
// file, as it is emitted (every entry of a whole baseline, each changed
// one of a delta): what [pass.nixTree] builds the Nix tree from.
func (p *pass) noteNix(e *merkle.Entry) {
	if e.Type != merkle.TypeDir && e.Path == p.opts.Config.Nix.SnapshotPath() {
		c := *e
		p.nixEntry, p.nixGone = &c, false
	}
}

// noteNixGone remembers that a delta deletes the snapshot file.
func (p *pass) noteNixGone(e *merkle.Entry) {
	if e.Path == p.opts.Config.Nix.SnapshotPath() {
		p.nixEntry, p.nixGone = nil, true
	}
}

// nixTree sets on w the Nix tree the new baseline records: the tree of
// the Nix snapshot file's records, as the new baseline attests the file
// (its content hash). An unchanged file keeps old's tree without writing
// it again; a baseline that does not attest the file, or with [nix] off,
// records none. The file is read once, without following a symlink, and
// its bytes must hash to what the new baseline records for it (else it
// records none): what the tree holds is what was accepted.
func (p *pass) nixTree(w *store.Writer, old *store.Baseline) error {
	on, err := NixEnabled(p.opts.Config)
	if err != nil || !on {
		w.SetNixTree(nil, nil)
		return err
	}
	path := p.opts.Config.Nix.SnapshotPath()
	var oldEntry *merkle.Entry
	if old != nil {
		if oldEntry, err = old.Lookup(path); errors.Is(err, store.ErrNotFound) {
			oldEntry = nil
		} else if err != nil {
			return err
		}
	}
	e := p.nixEntry
	if e == nil && !p.nixGone {
		e = oldEntry // not in what the update wrote: unchanged
	}
	if e == nil || e.Type != merkle.TypeFile || e.HashState != merkle.HashOK {
		w.SetNixTree(nil, nil)
		return nil
	}
	if oldEntry != nil && old.Info().Nix != nil && oldEntry.HashState == merkle.HashOK && oldEntry.Hash == e.Hash {
		w.SetNixTree(old.Info().Nix, nil)
		return nil
	}
	b, err := readSnapshotFile(path)
	if err != nil {
		return err
	}
	if blake3.Sum256(b) != e.Hash {
		// The file on disk is not the one the new baseline records (a
		// snapshot written and not accepted, outside a scoped update's
		// scopes or turned down; or one written during the scan): no
		// tree, rather than one of other records. Checks then read the
		// file, and report that it is not the baseline's.
		w.SetNixTree(nil, nil)
		return nil
	}
	var s nix.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return &fs.PathError{Op: "decode", Path: path, Err: err}
	}
	leaves := nixtree.Leaves(s)
	root, err := nixtree.TreeRoot(leaves)
	if err != nil {
		return &fs.PathError{Op: "decode", Path: path, Err: err}
	}
	recs := make([]store.NixRecord, len(leaves))
	for i, l := range leaves {
		recs[i] = store.NixRecord(l)
	}
	w.SetNixTree(&store.NixTree{Root: store.RootHash(root), Paths: int64(len(leaves))}, recs)
	return nil
}

// sealedNixTree returns the snapshot the Nix tree of b records, its
// records verified against the root b's statement carries: records that
// do not hash to it are [store.ErrTampered], naming the store paths whose
// records do not decode. ok is false when b records no tree.
func sealedNixTree(b *store.Baseline) (nix.Snapshot, bool, error) {
	leaves, err := nixLeaves(b)
	if err != nil || leaves == nil {
		return nix.Snapshot{}, false, err
	}
	s, err := nixtree.SnapshotOf(leaves)
	if err != nil {
		return nix.Snapshot{}, false, fmt.Errorf("baseline %d: %w: nix tree: %w", b.Info().ID, store.ErrTampered, err)
	}
	return s, true, nil
}

// nixLeaves returns the leaves of b's Nix tree (nil: none), verified
// against its root.
func nixLeaves(b *store.Baseline) ([]nixtree.Leaf, error) {
	t := b.Info().Nix
	if t == nil {
		return nil, nil
	}
	leaves := make([]nixtree.Leaf, 0, t.Paths)
	err := b.NixRecords(func(r store.NixRecord) error {
		leaves = append(leaves, nixtree.Leaf(r))
		return nil
	})
	if err != nil {
		return nil, err
	}
	root, err := nixtree.TreeRoot(leaves)
	switch {
	case err != nil:
		return nil, fmt.Errorf("baseline %d: %w: nix tree: %w", b.Info().ID, store.ErrTampered, err)
	case store.RootHash(root) != t.Root || int64(len(leaves)) != t.Paths:
		return nil, fmt.Errorf("baseline %d: %w: its Nix tree's %d records hash to %x, the baseline records %s (%d paths)",
			b.Info().ID, store.ErrTampered, len(leaves), root, t.Root, t.Paths)
	}
	return leaves, nil
}

// sameNixTree reports whether a and b name the same Nix tree (or none).
func sameNixTree(a, b *store.NixTree) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// diffNix puts in res.Nix the store paths whose records differ between
// the Nix trees of a and b, where both record one and their roots differ,
// each side's records verified against its root.
func diffNix(a, b *store.Baseline, res *Result) error {
	ta, tb := a.Info().Nix, b.Info().Nix
	if ta == nil || tb == nil || ta.Root == tb.Root {
		return nil
	}
	sa, _, err := sealedNixTree(a)
	if err != nil {
		return err
	}
	sb, _, err := sealedNixTree(b)
	if err != nil {
		return err
	}
	res.Nix = nixtree.Diff(sa, sb)
	return nil
}

// VerifyNixTree checks that the records of b's Nix tree hash to the root
// its statement carries (nil for a baseline without a tree): what vigil
// verify adds to the store's own check. A mismatch is [store.ErrTampered].
func VerifyNixTree(b *store.Baseline) error {
	_, err := nixLeaves(b)
	return err
}
