package nixtree

import (
	"fmt"
	"slices"

	"vigil/internal/nix"
)

// Action is what happened to one store path's record between two trees.
type Action string

// Actions.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
)

// Change is one store path whose record differs between two trees.
type Change struct {
	Path   string
	Action Action
	// Detail says what changed: the fields, old and new where short.
	Detail string
}

// Diff returns the store paths whose records differ from a to b, in path
// order: added to or removed from the tree (a valid path or a closure
// path), or with a record changed (the database's fields, the stat
// digest, the closure's holding it).
func Diff(a, b nix.Snapshot) []Change {
	al, bl := Leaves(a), Leaves(b)
	var out []Change
	i, j := 0, 0
	for i < len(al) || j < len(bl) {
		switch {
		case j == len(bl) || (i < len(al) && al[i].Path < bl[j].Path):
			out = append(out, Change{Path: al[i].Path, Action: Removed, Detail: "no longer in the Nix tree"})
			i++
		case i == len(al) || bl[j].Path < al[i].Path:
			out = append(out, Change{Path: bl[j].Path, Action: Added, Detail: "new in the Nix tree"})
			j++
		default:
			p := al[i].Path
			if d := recordDiff(a, b, p); d != "" {
				out = append(out, Change{Path: p, Action: Changed, Detail: d})
			}
			i++
			j++
		}
	}
	return out
}

// recordDiff says how p's record differs from a to b ("" if it does not).
func recordDiff(a, b nix.Snapshot, p string) string {
	ra, va := a.Paths[p]
	rb, vb := b.Paths[p]
	_, ca := slices.BinarySearch(a.Closure, p)
	_, cb := slices.BinarySearch(b.Closure, p)
	switch {
	case va != vb:
		return fmt.Sprintf("valid %t -> %t", va, vb)
	case ra.Hash != rb.Hash:
		return fmt.Sprintf("hash %s -> %s", ra.Hash, rb.Hash)
	case ra.NARSize != rb.NARSize:
		return fmt.Sprintf("nar size %d -> %d", ra.NARSize, rb.NARSize)
	case ra.RegistrationTime != rb.RegistrationTime:
		return fmt.Sprintf("registration time %d -> %d", ra.RegistrationTime, rb.RegistrationTime)
	case !slices.Equal(ra.Refs, rb.Refs):
		return "references changed"
	case ra.CA != rb.CA || ra.Ultimate != rb.Ultimate:
		return "content address or ultimate changed"
	case !slices.Equal(ra.Sigs, rb.Sigs):
		return "signatures changed"
	case ca != cb:
		return fmt.Sprintf("in the system closure %t -> %t", ca, cb)
	case ra.Stat != rb.Stat:
		return "stat digest changed (files touched, same NAR hash)"
	}
	return ""
}
