package engine

import (
	"context"
	"fmt"

	"vigil/merkle"
	"vigil/store"
)

// ManifestStore is where a host's portable tree goes, one manifest per
// directory node, content-addressed by its node hash (a fleet's object
// store vigil_nodes): hosts holding one directory store it once.
type ManifestStore interface {
	Has(ctx context.Context, h merkle.Hash) (bool, error)
	Put(ctx context.Context, h merkle.Hash, manifest []byte) error
}

// Uploaded says what [UploadManifests] did.
type Uploaded struct {
	Root merkle.Hash
	// Dirs counts the directories of the portable tree, Put the manifests
	// stored (those the store did not hold), Bytes their size.
	Dirs, Put int
	Bytes     int64
}

// portableDirs computes baseline b's portable tree: its root and every
// directory's node hash.
func portableDirs(ctx context.Context, b *store.Baseline, keep merkle.Attr, skip []string) (merkle.Hash, map[string]merkle.Hash, error) {
	dirs := map[string]merkle.Hash{}
	pb := merkle.NewPortableBuilder(keep, func(n merkle.Node) error {
		if n.Entry.Type == merkle.TypeDir {
			dirs[n.Entry.Path] = n.Hash
		}
		return nil
	})
	feed := portableFeed{b: pb, skip: skip}
	it := b.Iter()
	for i := 0; ; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return merkle.Hash{}, nil, err
			}
		}
		n, err := it.Next()
		if err != nil {
			return merkle.Hash{}, nil, err
		}
		if n.Entry == nil {
			break
		}
		if err := feed.Add(n.Entry); err != nil {
			return merkle.Hash{}, nil, err
		}
	}
	root, err := pb.Finish()
	return root, dirs, err
}

// UploadManifests puts the manifests of baseline b's portable tree that s
// does not hold yet. It descends from the root and stops at every
// directory s holds: manifests are put children first, so a directory
// held means its whole subtree is, and an unchanged tree costs one
// lookup. Every directory read from the database is verified against its
// parent's hash.
func UploadManifests(ctx context.Context, b *store.Baseline, keep merkle.Attr, skip []string, s ManifestStore) (Uploaded, error) {
	root, dirs, err := portableDirs(ctx, b, keep, skip)
	if err != nil {
		return Uploaded{}, err
	}
	up := Uploaded{Root: root, Dirs: len(dirs)}
	var ensure func(dir string) error
	ensure = func(dir string) error {
		h := dirs[dir]
		if ok, err := s.Has(ctx, h); err != nil || ok {
			return err
		}
		self, kids, err := b.Dir(dir)
		if err != nil {
			return err
		}
		if self.Entry == nil {
			return fmt.Errorf("%s: %w", dir, store.ErrNotFound)
		}
		var nodes []merkle.Node
		var buf []byte
		for _, k := range kids {
			if hostSpecific(skip, k.Entry.Path) {
				continue
			}
			n := merkle.Node{Entry: k.Entry}
			if k.Entry.Type == merkle.TypeDir {
				if err := ensure(k.Entry.Path); err != nil {
					return err
				}
				n.Hash = dirs[k.Entry.Path]
			} else {
				n.Hash, buf = merkle.PortableLeafHash(k.Entry, keep, buf)
			}
			nodes = append(nodes, n)
		}
		m := merkle.NewManifest(self.Entry, keep, nodes)
		if m.Hash(keep) != h {
			return fmt.Errorf("%s: the directory read again is not the one hashed (%w)", dir, store.ErrTampered)
		}
		raw, err := m.Encode(keep)
		if err != nil {
			return err
		}
		if err := s.Put(ctx, h, raw); err != nil {
			return err
		}
		up.Put++
		up.Bytes += int64(len(raw))
		return nil
	}
	if len(dirs) == 0 {
		return up, nil // a tree of one file has no directory
	}
	first := ""
	for p := range dirs {
		if first == "" || len(p) < len(first) {
			first = p
		}
	}
	return up, ensure(first)
}
