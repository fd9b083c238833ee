package engine

import (
	"fmt"

	"vigil/internal/nixtree"
	"vigil/merkle"
	"vigil/store"
)

// treeNix is a proof file's Tree for a proof in the Nix tree.
const treeNix = "nix"

// ProveNix returns the proof file of store path p's record in the Nix
// tree of baseline b (see internal/nixtree): the record, the audit path
// from its leaf to the Nix tree's root, and b's signed statement, which
// carries that root on its "nix" line. The records are verified against
// the root first (others are [store.ErrTampered]); a baseline without a
// Nix tree, or a path it holds no record of, is [nixtree.ErrNoRecord].
func ProveNix(b *store.Baseline, p string) (*ProofFile, error) {
	in := b.Info()
	if in.Nix == nil {
		return nil, fmt.Errorf("%s: %w: baseline %d records no Nix tree (vigil nix snapshot, then update or reseal)", p, nixtree.ErrNoRecord, in.ID)
	}
	leaves, err := nixLeaves(b)
	if err != nil {
		return nil, err
	}
	pf, data, err := nixtree.ProveRecord(leaves, p)
	if err != nil {
		return nil, err
	}
	if _, err := nixtree.VerifyRecord(pf, merkle.Hash(in.Nix.Root), data); err != nil {
		return nil, fmt.Errorf("baseline %d: %w: %w", in.ID, store.ErrTampered, err)
	}
	return &ProofFile{Baseline: in.ID, Host: in.Host, Root: merkle.Hash(in.Nix.Root), Statement: string(in.Signature),
		Proof: pf, Tree: treeNix, Record: string(data)}, nil
}

// verifyNixProof is [VerifyProof] for a proof in the Nix tree: the root
// it leads to must be the one the statement's "nix" line signs.
func verifyNixProof(f *ProofFile, in store.Info, signedBy string) (*VerifiedProof, error) {
	switch {
	case in.Nix == nil:
		return nil, fmt.Errorf("%w: the proof is of a Nix record, its signed statement carries no Nix tree", store.ErrTampered)
	case f.Root != merkle.Hash(in.Nix.Root):
		return nil, fmt.Errorf("%w: the proof says Nix root %x, its signed statement %s", store.ErrTampered, f.Root, in.Nix.Root)
	}
	d, err := nixtree.VerifyRecord(f.Proof, f.Root, []byte(f.Record))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrTampered, err)
	}
	return &VerifiedProof{File: f, Statement: in, SignedBy: signedBy, Nix: &d}, nil
}
