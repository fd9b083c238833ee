package merkle

// ManifestSource gives the manifest stored under a node hash, checked (see
// [DecodeManifest]); a fleet's object store is one.
type ManifestSource interface {
	Manifest(h Hash) (*Manifest, error)
}

// DiffManifests compares two portable trees by their roots, descending
// only into directories whose node hashes differ, and fetching only their
// manifests: its cost grows with the differences (O(differences × depth)
// manifests), not with the trees. Changes reach emit in path order;
// every path of an added or removed subtree is reported (its manifests are
// fetched from its side).
func DiffManifests(a, b ManifestSource, ra, rb Hash, emit func(Change) error) error {
	if ra == rb {
		return nil
	}
	ma, err := a.Manifest(ra)
	if err != nil {
		return err
	}
	mb, err := b.Manifest(rb)
	if err != nil {
		return err
	}
	return diffManifests(a, b, ma, mb, emit)
}

func diffManifests(a, b ManifestSource, ma, mb *Manifest, emit func(Change) error) error {
	if c, ok := modified(ma.Dir, mb.Dir); ok {
		if err := emit(c); err != nil {
			return err
		}
	}
	i, j := 0, 0
	for i < len(ma.Children) || j < len(mb.Children) {
		switch {
		case j == len(mb.Children) || i < len(ma.Children) && ma.Children[i].Name < mb.Children[j].Name:
			if err := walkManifest(a, ma.Children[i], Deleted, emit); err != nil {
				return err
			}
			i++
		case i == len(ma.Children) || mb.Children[j].Name < ma.Children[i].Name:
			if err := walkManifest(b, mb.Children[j], Created, emit); err != nil {
				return err
			}
			j++
		default:
			ca, cb := ma.Children[i], mb.Children[j]
			i, j = i+1, j+1
			if ca.Hash == cb.Hash {
				continue
			}
			switch {
			case ca.Entry != nil && cb.Entry != nil:
				if c, ok := modified(ca.Entry, cb.Entry); ok {
					if err := emit(c); err != nil {
						return err
					}
				}
			case ca.Entry == nil && cb.Entry == nil:
				if err := DiffManifests(a, b, ca.Hash, cb.Hash, emit); err != nil {
					return err
				}
			default: // a directory on one side, a file on the other
				if err := walkManifest(a, ca, Deleted, emit); err != nil {
					return err
				}
				if err := walkManifest(b, cb, Created, emit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// walkManifest reports c and, for a directory, everything below it, as
// action (Created or Deleted).
func walkManifest(s ManifestSource, c ManifestChild, action Action, emit func(Change) error) error {
	change := func(e *Entry) Change {
		if action == Created {
			return Change{Action: Created, Path: e.Path, New: e}
		}
		return Change{Action: Deleted, Path: e.Path, Old: e}
	}
	if c.Entry != nil {
		return emit(change(c.Entry))
	}
	m, err := s.Manifest(c.Hash)
	if err != nil {
		return err
	}
	if err := emit(change(m.Dir)); err != nil {
		return err
	}
	for _, k := range m.Children {
		if err := walkManifest(s, k, action, emit); err != nil {
			return err
		}
	}
	return nil
}
