package posture

import (
	"fmt"
	"slices"

	"github.com/zeebo/blake3"

	"vigil/merkle"
)

// rootDir is the posture tree's root directory entry, as [Root] hashes it.
func rootDir() *merkle.Entry {
	return &merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType}
}

// Prove returns the proof that the item of key is in the posture tree of
// items (sorted, as [Root] takes them): merkle's proof of one child of the
// tree's root, log2(len(items)) hashes. [VerifyItem] checks it.
func Prove(items []Item, key string) (*merkle.Proof, error) {
	i := slices.IndexFunc(items, func(it Item) bool { return it.Key == key })
	if i < 0 {
		return nil, fmt.Errorf("posture: no item %q", key)
	}
	leaves := make([]merkle.Hash, len(items))
	var buf []byte
	for j, it := range items {
		leaves[j], buf = merkle.LeafHash(Entry(it), buf)
	}
	return &merkle.Proof{Entry: Entry(items[i]), Steps: []merkle.Step{merkle.NewStep(rootDir(), leaves, i)}}, nil
}

// VerifyItem checks that p proves it, value included, in the posture tree
// whose root is root (what a baseline's signed statement carries).
func VerifyItem(p *merkle.Proof, root merkle.Hash, it Item) error {
	want := Entry(it)
	if p.Entry == nil || p.Entry.Path != want.Path || p.Entry.Hash != blake3.Sum256([]byte(it.Value)) ||
		merkle.Compare(p.Entry, want) != 0 {
		return fmt.Errorf("posture: the proof is not of %s = %q: %w", it.Key, it.Value, merkle.ErrBadProof)
	}
	if len(p.Steps) != 1 || p.Steps[0].Dir == nil || merkle.Compare(p.Steps[0].Dir, rootDir()) != 0 {
		return fmt.Errorf("posture: the proof of %s does not stand below the posture tree's root: %w", it.Key, merkle.ErrBadProof)
	}
	return p.Verify(root)
}
