package store

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
	"vigil/scanner"
)

// Baseline is a complete stored baseline. Its methods each use their own
// short read transaction; it implements [merkle.Tree].
type Baseline struct {
	db   *DB
	info Info
}

// Info returns the baseline's metadata.
func (b *Baseline) Info() Info { return b.info }

// view runs fn on the baseline's entries bucket in a read transaction.
func (b *Baseline) view(fn func(*bolt.Bucket) error) error {
	return b.db.bolt.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBaselines).Bucket(idKey(b.info.ID))
		if bk == nil || bk.Bucket(bucketEntries) == nil {
			return ErrNotFound
		}
		return fn(bk.Bucket(bucketEntries))
	})
}

// viewDropping is view for streaming reads: afterwards it lets go of the
// mapped pages read, so that memory does not grow with the baseline.
func (b *Baseline) viewDropping(fn func(*bolt.Bucket) error) error {
	return b.db.bolt.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBaselines).Bucket(idKey(b.info.ID))
		if bk == nil || bk.Bucket(bucketEntries) == nil {
			return ErrNotFound
		}
		err := fn(bk.Bucket(bucketEntries))
		b.db.dropMapped(tx)
		return err
	})
}

// node decodes the record at k into a node; a non-directory's hash is
// computed from its attributes.
func node(k, v []byte) (merkle.Node, error) {
	n, err := storedNode(k, v)
	if err == nil && n.Entry.Type != merkle.TypeDir {
		n.Hash, _ = merkle.LeafHash(n.Entry, nil)
	}
	return n, err
}

// storedNode decodes the record at k into a node with the hash stored in
// it: a directory's node hash, zero for anything else.
func storedNode(k, v []byte) (merkle.Node, error) {
	e, h, err := decodeRecord(keyPath(k), v)
	if err != nil {
		return merkle.Node{}, &recordError{key: k, err: err}
	}
	return merkle.Node{Entry: e, Hash: h}, nil
}

type recordError struct {
	key []byte
	err error
}

func (e *recordError) Error() string { return keyPath(e.key) + ": " + e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// Node returns the node at path.
func (b *Baseline) Node(path string) (merkle.Node, bool, error) {
	var n merkle.Node
	var ok bool
	err := b.view(func(bk *bolt.Bucket) error {
		v := bk.Get(appendKey(nil, path))
		if v == nil {
			return nil
		}
		var err error
		n, err = node(appendKey(nil, path), v)
		ok = err == nil
		return err
	})
	return n, ok, err
}

// Children returns the direct children of dir in name order.
func (b *Baseline) Children(dir string) ([]merkle.Node, error) {
	var out []merkle.Node
	err := b.view(func(bk *bolt.Bucket) error {
		return eachChild(bk, dir, func(k, v []byte) error {
			n, err := node(k, v)
			out = append(out, n)
			return err
		})
	})
	return out, err
}

// eachChild calls fn for each direct child of dir, skipping their subtrees.
func eachChild(bk *bolt.Bucket, dir string, fn func(k, v []byte) error) error {
	prefix := childPrefix(dir)
	c := bk.Cursor()
	k, v := c.Seek(prefix)
	if dir == "/" && bytes.Equal(k, prefix) {
		k, v = c.Next()
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		if isChild(k, prefix) {
			if err := fn(k, v); err != nil {
				return err
			}
			nk, nv := c.Next()
			if nk != nil && len(nk) > len(k) && bytes.HasPrefix(nk, k) && nk[len(k)] == 0 {
				nk, nv = c.Seek(subtreeEnd(k))
			}
			k, v = nk, nv
			continue
		}
		k, v = c.Seek(subtreeEnd(k[:len(prefix)+bytes.IndexByte(k[len(prefix):], 0)]))
	}
	return nil
}

// Cache returns the baseline as the scanner's stat cache.
func (b *Baseline) Cache() scanner.Cache { return statCache{b} }

type statCache struct{ b *Baseline }

// Children returns the recorded entries directly inside dir.
func (s statCache) Children(dir string) ([]merkle.Entry, error) {
	var out []merkle.Entry
	err := s.b.view(func(bk *bolt.Bucket) error {
		var kvs [][2][]byte // valid for the transaction: decode once counted
		err := eachChild(bk, dir, func(k, v []byte) error {
			kvs = append(kvs, [2][]byte{k, v})
			return nil
		})
		out = make([]merkle.Entry, len(kvs))
		for i, kv := range kvs {
			if _, err := decodeInto(&out[i], keyPath(kv[0]), kv[1]); err != nil {
				return &recordError{key: kv[0], err: err}
			}
		}
		return err
	})
	return out, err
}

// iterChunk is how many entries an [Iter] reads per read transaction.
const iterChunk = 2048

// Iter reads a baseline's entries in path order, in chunks, each chunk in
// its own read transaction.
type Iter struct {
	b      *Baseline
	scopes [][]byte // keys of the subtrees still to read; nil means all
	all    bool
	resume []byte // last key returned; nil before the first
	buf    []merkle.Node
	pos    int // next in buf
	err    error
	done   bool
}

// Iter returns an iterator over the subtrees at scopes (absolute paths, none
// meaning the whole baseline), in path order.
func (b *Baseline) Iter(scopes ...string) *Iter {
	it := &Iter{b: b, all: len(scopes) == 0}
	s := slices.Clone(scopes)
	slices.SortFunc(s, merkle.ComparePaths)
	last := ""
	for _, p := range s {
		if last != "" && merkle.Within(p, last) {
			continue
		}
		last = p
		it.scopes = append(it.scopes, appendKey(nil, p))
	}
	if it.all {
		it.scopes = [][]byte{{0}}
	}
	return it
}

// Next returns the next node with the hash stored for it: a directory's
// node hash, zero for anything else (a [Verifier] or [merkle.LeafHash]
// computes those). At the end it returns a node with a nil Entry.
func (it *Iter) Next() (merkle.Node, error) {
	for it.pos >= len(it.buf) {
		if it.err != nil || it.done {
			return merkle.Node{}, it.err
		}
		it.pos = 0
		it.err = it.b.viewDropping(it.fill)
	}
	n := it.buf[it.pos]
	it.buf[it.pos] = merkle.Node{} // the caller owns it now
	it.pos++
	return n, nil
}

// NextEntry is Next without the hash, for [merkle.NewStreamDiff].
func (it *Iter) NextEntry() (*merkle.Entry, error) {
	n, err := it.Next()
	return n.Entry, err
}

// fill reads the next chunk.
func (it *Iter) fill(bk *bolt.Bucket) error {
	c := bk.Cursor()
	if it.buf == nil {
		it.buf = make([]merkle.Node, 0, iterChunk)
	}
	it.buf = it.buf[:0]
	for len(it.scopes) > 0 && len(it.buf) < iterChunk {
		scope := it.scopes[0]
		var k, v []byte
		if it.resume == nil {
			k, v = c.Seek(scope)
		} else {
			k, v = c.Seek(it.resume)
			if bytes.Equal(k, it.resume) {
				k, v = c.Next()
			}
		}
		var last []byte
		for ; k != nil && inScope(k, scope, it.all) && len(it.buf) < iterChunk; k, v = c.Next() {
			n, err := storedNode(k, v)
			if err != nil {
				return err
			}
			it.buf = append(it.buf, n)
			last = k
		}
		if last != nil {
			it.resume = bytes.Clone(last)
		}
		if k == nil || !inScope(k, scope, it.all) {
			it.scopes = it.scopes[1:]
			it.resume = nil
		}
	}
	if len(it.scopes) == 0 {
		it.done = true
	}
	return nil
}

func inScope(k, scope []byte, all bool) bool {
	if all || (len(scope) == 1 && scope[0] == 0) {
		return true // "/" holds every key
	}
	return bytes.Equal(k, scope) || (bytes.HasPrefix(k, scope) && len(k) > len(scope) && k[len(scope)] == 0)
}
