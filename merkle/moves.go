package merkle

import "slices"

// PairMoves finds, among created and deleted changes, the ones that are the
// same file at a new path, and returns the list with each such pair replaced
// by one Moved change, sorted by path. A pair must have the same device, inode
// and type, and a file or symlink must also have the same content or target,
// so that an inode number reused by an unrelated new file is not taken for a
// move. Other changes pass through unchanged.
func PairMoves(changes []Change) []Change {
	type key struct {
		dev, ino uint64
		typ      Type
	}
	deleted := map[key][]int{}
	for i, c := range changes {
		if c.Action == Deleted {
			k := key{c.Old.Dev, c.Old.Inode, c.Old.Type}
			deleted[k] = append(deleted[k], i)
		}
	}
	if len(deleted) == 0 {
		return changes
	}
	gone := make([]bool, len(changes))
	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		if c.Action != Created {
			continue
		}
		k := key{c.New.Dev, c.New.Inode, c.New.Type}
		for n, i := range deleted[k] {
			old := changes[i].Old
			if gone[i] || !sameContent(old, c.New) || old.Target != c.New.Target {
				continue
			}
			gone[i] = true
			deleted[k] = slices.Delete(deleted[k], n, n+1)
			c.Action, c.Old = Moved, old
			c.Changed = Compare(old, c.New)
			break
		}
		out = append(out, c)
	}
	for i, c := range changes {
		if c.Action != Created && !gone[i] {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int { return ComparePaths(a.Path, b.Path) })
	return out
}
