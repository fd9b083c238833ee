package merkle

import (
	"fmt"
	"math/bits"

	"github.com/zeebo/blake3"
)

// Proof shows that an entry, with exactly the attested attributes it has,
// is part of the tree with a given root: the entry, and for each directory
// above it the directory's own entry and an RFC 6962 style audit path
// through its child tree. Its size is O(depth x log2 fan-out) hashes.
type Proof struct {
	// Entry is the entry proven; its Path says where it stands.
	Entry *Entry
	// Count and Children are, for a directory, its number of children and
	// the root of its child tree ([ChildRoot]); a directory's node hash
	// covers them, not its subtree's entries.
	Count    uint64
	Children Hash
	// Steps go from Entry's parent up to the root of the tree.
	Steps []Step
}

// Step is one directory on a proof's way up.
type Step struct {
	// Dir is the directory holding the node below.
	Dir *Entry
	// Count is its number of children, Index the position of the node below
	// among them in name order.
	Count, Index uint64
	// Path holds the sibling subtree hashes, nearest first.
	Path []Hash
}

// NewStep returns the step through directory dir whose children have the
// node hashes children (in name order) for the child at index.
func NewStep(dir *Entry, children []Hash, index int) Step {
	return Step{Dir: dir, Count: uint64(len(children)), Index: uint64(index), Path: auditPath(children, index)}
}

// auditPath returns the RFC 6962 audit path of leaf m among leaves.
func auditPath(leaves []Hash, m int) []Hash {
	if len(leaves) <= 1 {
		return nil
	}
	k := splitPoint(len(leaves))
	if m < k {
		return append(auditPath(leaves[:k], m), ChildRoot(leaves[k:]))
	}
	return append(auditPath(leaves[k:], m-k), ChildRoot(leaves[:k]))
}

// splitPoint returns the largest power of two smaller than n (n > 1).
func splitPoint(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// NodeHash returns the node hash of the proven entry.
func (p *Proof) NodeHash() Hash {
	if p.Entry.Type == TypeDir {
		return DirHash(p.Entry, p.Count, p.Children)
	}
	h, _ := LeafHash(p.Entry, nil)
	return h
}

// Root recomputes the root hash the proof leads to. It fails if the steps do
// not lead from the entry's parent up to "/" (so that the entry's whole path
// is attested, not only its name) or an audit path does not fit its index
// and count.
func (p *Proof) Root() (Hash, error) {
	if p.Entry == nil || !ValidPath(p.Entry.Path) {
		return Hash{}, fmt.Errorf("proof: %w", ErrNotAbs)
	}
	h, path := p.NodeHash(), p.Entry.Path
	hasher := newInteriorHasher()
	for i, s := range p.Steps {
		if s.Dir == nil || s.Dir.Type != TypeDir || s.Dir.Path != Parent(path) {
			return Hash{}, fmt.Errorf("proof step %d: not the directory holding %s: %w", i, path, ErrBadProof)
		}
		r, ok := rootFromPath(hasher, h, s.Index, s.Count, s.Path)
		if !ok {
			return Hash{}, fmt.Errorf("proof step %d (%s): %w", i, s.Dir.Path, ErrBadProof)
		}
		h, path = DirHash(s.Dir, s.Count, r), s.Dir.Path
	}
	if path != "/" {
		return Hash{}, fmt.Errorf("proof of %s: %w: its steps end at %s, not at /", p.Entry.Path, ErrBadProof, path)
	}
	return h, nil
}

// Verify checks that the proof leads to root.
func (p *Proof) Verify(root Hash) error {
	got, err := p.Root()
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("proof of %s: %w: leads to %x, want %x", p.Entry.Path, ErrBadProof, got[:8], root[:8])
	}
	return nil
}

// rootFromPath is RFC 9162's inclusion proof verification (section
// 2.1.3.2) with vigil's interior hash.
func rootFromPath(h *blake3.Hasher, leaf Hash, index, count uint64, path []Hash) (Hash, bool) {
	if index >= count {
		return Hash{}, false
	}
	fn, sn, r := index, count-1, leaf
	for _, p := range path {
		if sn == 0 {
			return Hash{}, false
		}
		if fn&1 == 1 || fn == sn {
			r = interior(h, &p, &r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = interior(h, &r, &p)
		}
		fn >>= 1
		sn >>= 1
	}
	return r, sn == 0
}
