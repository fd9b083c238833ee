package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// VerifyPaths verifies the record of each of paths, or its absence,
// through its path to the baseline's root, as [Baseline.VerifyPath] does
// for one (and does for a path alone in its directory), but in one read
// transaction and with one proof per directory holding several of them: a thousand siblings in a directory of a hundred thousand
// entries cost one read of its children, not a thousand. A recorded path
// is verified by its parent's proof, which hashes every child's record (a
// file's leaf hash, a directory's stored node hash), and by its own
// record's hash under its key there (so a directory's stored node hash is
// verified too, which VerifyPath leaves to whoever reads below it), and a
// recorded directory by its own proof as well; an absent one by its
// parent's proof (the children are all there is), or, its parent absent
// too, as its parent is. An error about a directory is returned once, not
// once per path in it.
func (b *Baseline) VerifyPaths(paths []string) error {
	perDir := map[string]int{}
	for _, p := range paths {
		perDir[merkle.Parent(p)]++
	}
	return b.view(func(rb *bolt.Bucket) error {
		v := &pathsVerifier{b: b, rb: rb, dirs: map[string]*provenDir{}}
		var errs []error
		for _, p := range paths {
			if perDir[merkle.Parent(p)] > 1 {
				errs = append(errs, v.path(p))
				continue
			}
			// Alone in its directory: its own proof costs less than
			// its directory's and the keys of its siblings.
			if _, err := b.lookup(rb, p); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// pathsVerifier is one VerifyPaths: the directories proven so far.
type pathsVerifier struct {
	b    *Baseline
	rb   *bolt.Bucket
	dirs map[string]*provenDir
}

// provenDir is a directory whose record, or absence, was verified: its
// children's node hashes by path key when it is a recorded directory.
type provenDir struct {
	kids map[string]merkle.Hash
}

func (v *pathsVerifier) path(path string) error {
	if !merkle.ValidPath(path) {
		return fmt.Errorf("%s: %w", path, merkle.ErrNotAbs)
	}
	if path == "/" {
		_, err := v.b.lookup(v.rb, "/")
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	dir := merkle.Parent(path)
	d, err := v.dir(dir)
	if d == nil {
		return err // the directory's error, returned once
	}
	pk := appendKey(nil, path)
	val := v.b.get(v.rb, pk)
	want, listed := d.kids[string(pk)]
	switch {
	case val == nil && !listed:
		return nil // absent, and proven so by the directory's children
	case val == nil:
		return fmt.Errorf("%s: %w: among its parent's children but not readable", path, ErrTampered)
	case d.kids == nil:
		return fmt.Errorf("%s: %w: its parent %s is not a recorded directory", path, ErrTampered, dir)
	case !listed:
		return fmt.Errorf("%s: %w: not among its parent's children", path, ErrTampered)
	}
	h, err := recordHash(pk, val)
	if err != nil {
		return err
	}
	if h != want {
		return fmt.Errorf("%s: %w: its record does not hash as its parent's children say", path, ErrTampered)
	}
	if isDirRecord(val) {
		_, err := v.dir(path) // its children, as VerifyPath reads them
		return err
	}
	return nil
}

// dir proves the directory at path, once: its record through its path to
// the root (and so its children), or its absence. It returns nil and the
// error the first time the proof fails, nil and nil afterwards.
func (v *pathsVerifier) dir(path string) (*provenDir, error) {
	if d, ok := v.dirs[path]; ok {
		return d, nil
	}
	v.dirs[path] = nil // a failure is said once
	p, err := v.b.proof(v.rb, path)
	if errors.Is(err, ErrNotFound) {
		if err := v.path(path); err != nil {
			return nil, err // its absence is not proven
		}
		d := &provenDir{} // absent: so are its children
		v.dirs[path] = d
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if err := p.Verify(merkle.Hash(v.b.info.Root)); err != nil {
		return nil, fmt.Errorf("baseline %d: %s: %w: %w", v.b.info.ID, path, ErrTampered, err)
	}
	d := &provenDir{}
	if p.Entry.Type == merkle.TypeDir {
		// The proof hashed these very records; they are read again to know
		// each one's key.
		d.kids = map[string]merkle.Hash{}
		err := v.b.eachChild(v.rb, path, func(pk, val []byte) error {
			h, err := recordHash(pk, val)
			d.kids[string(pk)] = h
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	v.dirs[path] = d
	return d, nil
}

// isDirRecord reports whether the record val is a directory's.
func isDirRecord(val []byte) bool {
	var e merkle.Entry
	_, err := decodeInto(&e, "", val)
	return err == nil && e.Type == merkle.TypeDir
}

// recordHash is the node hash of the record val at path key pk, as its
// parent's proof hashes it: a directory's stored node hash, the leaf hash
// of anything else.
func recordHash(pk, val []byte) (merkle.Hash, error) {
	var e merkle.Entry
	h, err := decodeInto(&e, "", val)
	if err != nil {
		return merkle.Hash{}, &recordError{key: pk, err: err}
	}
	if e.Type != merkle.TypeDir {
		e.Path = keyPath(pk)
		h, _ = merkle.LeafHash(&e, nil)
	}
	return h, nil
}
