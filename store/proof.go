package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Proof returns the proof that path's entry, as the baseline records it, is
// part of the tree whose root is the baseline's root hash: the entry, and
// for each directory above it the directory and the audit path through its
// children. It reads path's parent's children at every level, so it costs
// O(depth x fan-out) reads for O(depth x log2 fan-out) hashes of proof.
// A path not recorded gives [ErrNotFound].
func (b *Baseline) Proof(path string) (*merkle.Proof, error) {
	var p *merkle.Proof
	err := b.view(func(rb *bolt.Bucket) error {
		var err error
		p, err = b.proof(rb, path)
		return err
	})
	return p, err
}

func (b *Baseline) proof(rb *bolt.Bucket, path string) (*merkle.Proof, error) {
	if !merkle.ValidPath(path) {
		return nil, fmt.Errorf("%s: %w", path, merkle.ErrNotAbs)
	}
	pk := appendKey(nil, path)
	v := b.get(rb, pk)
	if v == nil {
		return nil, fmt.Errorf("%s: %w in baseline %d", path, ErrNotFound, b.info.ID)
	}
	n, err := storedNode(pk, v)
	if err != nil {
		return nil, err
	}
	p := &merkle.Proof{Entry: n.Entry}
	if n.Entry.Type == merkle.TypeDir {
		kids, _, err := b.childHashes(rb, path, nil)
		if err != nil {
			return nil, err
		}
		p.Count, p.Children = uint64(len(kids)), merkle.ChildRoot(kids)
	}
	for child := path; child != "/"; child = merkle.Parent(child) {
		dir := merkle.Parent(child)
		dv := b.get(rb, appendKey(nil, dir))
		if dv == nil {
			return nil, fmt.Errorf("%s: %w: its parent %s is not recorded", child, ErrTampered, dir)
		}
		d, err := storedNode(appendKey(nil, dir), dv)
		if err != nil {
			return nil, err
		}
		if d.Entry.Type != merkle.TypeDir {
			return nil, fmt.Errorf("%s: %w: its parent %s is not a recorded directory", child, ErrTampered, dir)
		}
		kids, i, err := b.childHashes(rb, dir, appendKey(nil, child))
		if err != nil {
			return nil, err
		}
		if i < 0 {
			return nil, fmt.Errorf("%s: %w: not among its parent's children", child, ErrTampered)
		}
		p.Steps = append(p.Steps, merkle.NewStep(d.Entry, kids, i))
	}
	return p, nil
}

// childHashes returns the node hashes of dir's children in name order,
// and the index of the child with path key want (-1 if none). It decodes
// every child into one reused entry: a proof needs their hashes, not them.
func (b *Baseline) childHashes(rb *bolt.Bucket, dir string, want []byte) ([]merkle.Hash, int, error) {
	var out []merkle.Hash
	idx := -1
	var e merkle.Entry
	var buf []byte
	err := b.eachChild(rb, dir, func(pk, v []byte) error {
		h, err := decodeInto(&e, "", v)
		if err != nil {
			return &recordError{key: pk, err: err}
		}
		if e.Type != merkle.TypeDir {
			e.Path = keyPath(pk) // the name is hashed
			h, buf = merkle.LeafHash(&e, buf)
		}
		if want != nil && bytes.Equal(pk, want) {
			idx = len(out)
		}
		out = append(out, h)
		return nil
	})
	return out, idx, err
}

// Lookup returns path's recorded entry after verifying it through its path
// up to the baseline's root hash: a record that does not chain to the root
// is [ErrTampered], never returned. A path not recorded gives [ErrNotFound]
// after its nearest recorded ancestor's children were verified likewise, so
// that the absence is proven too.
func (b *Baseline) Lookup(path string) (*merkle.Entry, error) {
	var e *merkle.Entry
	err := b.view(func(rb *bolt.Bucket) error {
		var err error
		e, err = b.lookup(rb, path)
		return err
	})
	return e, err
}

func (b *Baseline) lookup(rb *bolt.Bucket, path string) (*merkle.Entry, error) {
	p, err := b.proof(rb, path)
	if errors.Is(err, ErrNotFound) && path != "/" {
		if _, aerr := b.lookup(rb, merkle.Parent(path)); aerr != nil && !errors.Is(aerr, ErrNotFound) {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := p.Verify(merkle.Hash(b.info.Root)); err != nil {
		return nil, fmt.Errorf("baseline %d: %s: %w: %w", b.info.ID, path, ErrTampered, err)
	}
	return p.Entry, nil
}

// VerifyPath verifies path's record, or its absence, against the baseline's
// root hash, as [Baseline.Lookup] does.
func (b *Baseline) VerifyPath(path string) error {
	_, err := b.Lookup(path)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
