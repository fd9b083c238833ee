package store

import (
	"bytes"
	"fmt"
	"sync"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// tombstone is the record of a path that a baseline deleted.
var tombstone = []byte{0}

// Baseline is a complete stored baseline. Its methods each use their own
// short read transaction; it implements [merkle.Tree], verifying every
// directory it lists against the hash its parent holds for it.
type Baseline struct {
	db   *DB
	info Info
}

// Info returns the baseline's metadata.
func (b *Baseline) Info() Info { return b.info }

// view runs fn on the records of the baseline's epoch in a read
// transaction. It fails with [ErrNotFound] once the baseline has been pruned
// (or its write abandoned), so that a long read in many transactions never
// reads half of a baseline.
func (b *Baseline) view(fn func(*bolt.Bucket) error) error {
	return b.db.view(func(tx *bolt.Tx) error { return b.in(tx, fn) })
}

func (b *Baseline) in(tx *bolt.Tx, fn func(*bolt.Bucket) error) error {
	rb := records(tx, b.info.Epoch)
	if rb == nil || tx.Bucket(bucketBaselines).Get(idKey(b.info.ID)) == nil {
		return fmt.Errorf("baseline %d: %w (pruned while it was read)", b.info.ID, ErrNotFound)
	}
	return fn(rb)
}

// corruptKey reports a key out of order or of the wrong form: a damaged
// file must stop a read, never loop it.
func corruptKey(k []byte, what string) error {
	return fmt.Errorf("%w: %s at key %q", ErrCorrupt, what, keyPath(k))
}

// group reads the versions of one path, starting at the version key k, and
// returns the path's key, the value visible to the baseline (nil if none, or
// deleted) and the cursor's next position.
func (b *Baseline) group(c *bolt.Cursor, k, v []byte) (pk, val, nk, nv []byte, err error) {
	pk, id, ok := splitVerKey(k)
	if !ok {
		return nil, nil, nil, nil, corruptKey(k, "not a version key")
	}
	for {
		if id <= b.info.ID {
			val = v
		}
		nk, nv = c.Next()
		if nk == nil {
			break
		}
		if bytes.Compare(nk, k) <= 0 {
			return nil, nil, nil, nil, corruptKey(nk, "key out of order")
		}
		npk, nid, ok := splitVerKey(nk)
		if !ok || !bytes.Equal(npk, pk) {
			break
		}
		k, v, id = nk, nv, nid
	}
	if bytes.Equal(val, tombstone) {
		val = nil
	}
	return pk, val, nk, nv, nil
}

// get returns the value of path visible to the baseline, nil if none.
func (b *Baseline) get(rb *bolt.Bucket, pk []byte) []byte {
	c := rb.Cursor()
	var v []byte
	k, _ := c.Seek(verKeyOf(pk, b.info.ID+1))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil {
		return nil
	}
	kp, id, ok := splitVerKey(k)
	if !ok || id > b.info.ID || !bytes.Equal(kp, pk) || bytes.Equal(v, tombstone) {
		return nil
	}
	return v
}

// eachChild calls fn with the key and visible value of each direct child of
// dir, in name order, skipping their subtrees.
func (b *Baseline) eachChild(rb *bolt.Bucket, dir string, fn func(pk, v []byte) error) error {
	return b.eachChildAfter(rb, dir, "", 0, fn)
}

// eachChildAfter is eachChild for the children whose names sort after
// after ("": all), at most limit of them (0: no limit).
func (b *Baseline) eachChildAfter(rb *bolt.Bucket, dir, after string, limit int, fn func(pk, v []byte) error) error {
	prefix := childPrefix(dir)
	c := rb.Cursor()
	start := prefix
	if after != "" {
		start = subtreeEnd(append(bytes.Clone(prefix), after...)) // past its versions and subtree
	}
	k, v := c.Seek(start)
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && (limit == 0 || n < limit); {
		rest := k[len(prefix):]
		i := bytes.IndexByte(rest, 0)
		var next []byte
		switch {
		case i < 0 || i+1 >= len(rest):
			return corruptKey(k, "not a version key")
		case i == 0: // dir's own versions
			next = afterVersions(appendKey(nil, dir))
		case rest[i+1] == 0: // a child's versions
			pk, val, nk, nv, err := b.group(c, k, v)
			if err != nil {
				return err
			}
			if val != nil {
				if err := fn(pk, val); err != nil {
					return err
				}
				n++
			}
			if nk == nil || len(nk) <= len(pk) || !bytes.HasPrefix(nk, pk) || nk[len(pk)] != 0 {
				k, v = nk, nv // the next key is not in the child's subtree: no seek
				continue
			}
			next = subtreeEnd(pk)
		default: // below a child with no version of its own
			next = subtreeEnd(k[:len(prefix)+i])
		}
		nk, nv := c.Seek(next)
		if nk != nil && bytes.Compare(nk, k) <= 0 {
			return corruptKey(nk, "key out of order")
		}
		k, v = nk, nv
	}
	return nil
}

// node decodes a record into a node with its node hash: a directory's as
// stored, a leaf's computed from its attributes. buf is scratch space for
// the hash (nil for none).
func node(pk, v []byte, buf *[]byte) (merkle.Node, error) {
	n, err := storedNode(pk, v)
	if err == nil && n.Entry.Type != merkle.TypeDir {
		var scratch []byte
		if buf == nil {
			buf = &scratch
		}
		n.Hash, *buf = merkle.LeafHash(n.Entry, *buf)
	}
	return n, err
}

// storedNode decodes the record of path key pk into a node with the hash
// stored in it: a directory's node hash, zero for anything else.
func storedNode(pk, v []byte) (merkle.Node, error) {
	e, h, err := decodeRecord(keyPath(pk), v)
	if err != nil {
		return merkle.Node{}, &recordError{key: pk, err: err}
	}
	return merkle.Node{Entry: e, Hash: h}, nil
}

type recordError struct {
	key []byte
	err error
}

func (e *recordError) Error() string { return keyPath(e.key) + ": " + e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// Node returns the node at path. Only the root's is verified by itself
// (against the baseline's root hash); any other is verified as one of its
// parent's [Baseline.Children], or through [Baseline.Lookup].
func (b *Baseline) Node(path string) (merkle.Node, bool, error) {
	var n merkle.Node
	var ok bool
	err := b.view(func(rb *bolt.Bucket) error {
		pk := appendKey(nil, path)
		v := b.get(rb, pk)
		if v == nil {
			return nil
		}
		var err error
		n, err = node(pk, v, nil)
		ok = err == nil
		return err
	})
	if err == nil && ok && path == "/" && n.Hash != merkle.Hash(b.info.Root) {
		return n, ok, fmt.Errorf("baseline %d: /: %w", b.info.ID, ErrTampered)
	}
	return n, ok, err
}

// Children returns the direct children of dir in name order, after checking
// that they and dir's own attributes hash to the node hash stored for dir.
func (b *Baseline) Children(dir string) ([]merkle.Node, error) {
	var out []merkle.Node
	err := b.view(func(rb *bolt.Bucket) error {
		d, kids, err := b.dirNodes(rb, dir)
		out = kids
		if err == nil && d.Entry != nil {
			err = checkDir(d, kids)
		}
		return err
	})
	return out, err
}

// dirNodes reads dir's own node (nil Entry if it is not recorded) and its
// children's.
func (b *Baseline) dirNodes(rb *bolt.Bucket, dir string) (merkle.Node, []merkle.Node, error) {
	var d merkle.Node
	pk := appendKey(nil, dir)
	if v := b.get(rb, pk); v != nil {
		var err error
		if d, err = storedNode(pk, v); err != nil {
			return d, nil, err
		}
	}
	var kids []merkle.Node
	var buf []byte
	err := b.eachChild(rb, dir, func(k, v []byte) error {
		n, err := node(k, v, &buf)
		kids = append(kids, n)
		return err
	})
	return d, kids, err
}

// checkDir checks a directory's stored node hash against its children.
func checkDir(d merkle.Node, kids []merkle.Node) error {
	if d.Entry.Type != merkle.TypeDir {
		if len(kids) > 0 {
			return fmt.Errorf("%s: %w: a %s with children", d.Entry.Path, ErrTampered, d.Entry.Type)
		}
		return nil
	}
	h := merkle.NewDirHasher(d.Entry)
	for _, k := range kids {
		h.Add(k.Hash)
	}
	if h.Sum() != d.Hash {
		return fmt.Errorf("%s: %w: directory hash", d.Entry.Path, ErrTampered)
	}
	return nil
}

// Cache returns the baseline as the scanner's stat cache: a
// [StatCache] is a scanner.Cache, which the engine hands to the scanner
// (store needs no scanner types).
func (b *Baseline) Cache() StatCache { return StatCache{b} }

// StatCache reads a baseline's recorded entries a directory at a time, as
// the scanner's stat cache.
type StatCache struct{ b *Baseline }

// Children returns the first n recorded entries directly inside dir whose
// names sort after after, in name order, as scanner.Cache says: the
// scanner reads a huge directory's records a chunk at a time.
//
// A scan calls it once per directory, so it allocates little: the records
// are gathered in a pooled slice, and their paths share one string.
func (s StatCache) Children(dir, after string, n int) ([]merkle.Entry, error) {
	var out []merkle.Entry
	err := s.b.db.view(func(tx *bolt.Tx) error {
		return s.b.in(tx, func(rb *bolt.Bucket) error { return s.children(rb, dir, after, n, &out) })
	})
	return out, err
}

// children is Children in a read transaction.
func (s StatCache) children(rb *bolt.Bucket, dir, after string, n int, out *[]merkle.Entry) error {
	kp := kvPool.Get().(*[][2][]byte)
	kvs := (*kp)[:0] // views into the transaction's pages: decoded before it ends
	defer func() {
		s.b.db.dropRead(rb.Tx(), kvs) // decoded: let go of their pages
		clear(kvs)
		*kp = kvs[:0]
		kvPool.Put(kp)
	}()
	err := s.b.eachChildAfter(rb, dir, after, max(n, 1), func(k, v []byte) error {
		kvs = append(kvs, [2][]byte{k, v})
		return nil
	})
	paths := keyPaths(kvs)
	es := make([]merkle.Entry, len(kvs))
	*out = es
	for i, kv := range kvs {
		p := paths[:len(kv[0])]
		paths = paths[len(kv[0]):]
		if _, err := decodeInto(&es[i], p, kv[1]); err != nil {
			return &recordError{key: kv[0], err: err}
		}
	}
	return err
}

// kvPool holds the slices [StatCache.Children] gathers records in.
var kvPool = sync.Pool{New: func() any { return new([][2][]byte) }}

// keyPaths returns the paths of the keys kvs[i][0], one after the other
// in one string: the keys copied whole, then each NUL turned into a '/'.
func keyPaths(kvs [][2][]byte) string {
	size := 0
	for _, kv := range kvs {
		size += len(kv[0])
	}
	buf := make([]byte, 0, size)
	for _, kv := range kvs {
		buf = append(buf, kv[0]...)
	}
	for i, c := range buf {
		if c == 0 {
			buf[i] = '/'
		}
	}
	return unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again
}

// iterChunk is how many entries an [Iter] reads per read transaction.
const iterChunk = 512

// Iter reads a baseline's entries in path order, in chunks, each chunk in
// its own read transaction.
type Iter struct {
	b      *Baseline
	scopes [][]byte // keys of the subtrees still to read
	all    bool
	resume []byte // where the next chunk starts; nil at a scope's start
	buf    []merkle.Node
	kvs    [][2][]byte // records read, not yet decoded: see [Iter.decode]
	pos    int         // next in buf
	err    error
	done   bool
}

// Iter returns an iterator over the subtrees at scopes (absolute paths, none
// meaning the whole baseline), in path order.
func (b *Baseline) Iter(scopes ...string) *Iter {
	it := &Iter{b: b, all: len(scopes) == 0}
	for _, p := range merkle.Outermost(scopes) {
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
		it.err = it.b.view(it.fill)
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
func (it *Iter) fill(rb *bolt.Bucket) error {
	c := rb.Cursor()
	defer func() { // views into the transaction: none outlives it, even on an error
		clear(it.kvs)
		it.kvs = it.kvs[:0]
	}()
	if it.buf == nil {
		it.buf = make([]merkle.Node, 0, iterChunk)
	}
	it.buf = it.buf[:0]
	for len(it.scopes) > 0 && len(it.buf)+len(it.kvs) < iterChunk {
		scope := it.scopes[0]
		start := it.resume
		if start == nil {
			start = scope
		}
		k, v := c.Seek(start)
		var last []byte
		for k != nil && len(it.buf)+len(it.kvs) < iterChunk {
			pk, val, nk, nv, err := it.b.group(c, k, v)
			if err != nil {
				return err
			}
			if !inScope(pk, scope, it.all) {
				k = nil
				break
			}
			if val != nil {
				it.kvs = append(it.kvs, [2][]byte{pk, val})
				if len(it.kvs) == iterSlab {
					if err := it.decode(rb.Tx()); err != nil {
						return err
					}
				}
			}
			last, k, v = pk, nk, nv
		}
		if err := it.decode(rb.Tx()); err != nil {
			return err
		}
		if k == nil {
			it.scopes, it.resume = it.scopes[1:], nil
		} else if last != nil {
			it.resume = afterVersions(last)
		}
	}
	if len(it.scopes) == 0 {
		it.done = true
	}
	return nil
}

// iterSlab is how many records an [Iter] decodes together, into one
// allocation of entries and one string of paths: few enough that an entry
// a caller keeps (a directory's, while its subtree streams by) holds
// little else in memory.
const iterSlab = 64

// decode appends the nodes of the records gathered in it.kvs (views into
// the read transaction tx's pages) to it.buf, and empties it.kvs, letting
// go of their pages ([DB.dropRead]).
func (it *Iter) decode(tx *bolt.Tx) error {
	if len(it.kvs) == 0 {
		return nil
	}
	defer func() {
		it.b.db.dropRead(tx, it.kvs)
		clear(it.kvs)
		it.kvs = it.kvs[:0]
	}()
	paths := keyPaths(it.kvs)
	es := make([]merkle.Entry, len(it.kvs))
	for i, kv := range it.kvs {
		p := paths[:len(kv[0])]
		paths = paths[len(kv[0]):]
		h, err := decodeInto(&es[i], p, kv[1])
		if err != nil {
			return &recordError{key: bytes.Clone(kv[0]), err: err}
		}
		it.buf = append(it.buf, merkle.Node{Entry: &es[i], Hash: h})
	}
	return nil
}

func inScope(k, scope []byte, all bool) bool {
	if all || (len(scope) == 1 && scope[0] == 0) {
		return true // "/" holds every key
	}
	return bytes.Equal(k, scope) || (bytes.HasPrefix(k, scope) && len(k) > len(scope) && k[len(scope)] == 0)
}

// Dir returns dir's own node (nil Entry if it is not recorded) and its
// children's, after checking that they hash to the node hash stored for
// dir.
func (b *Baseline) Dir(dir string) (self merkle.Node, kids []merkle.Node, err error) {
	err = b.view(func(rb *bolt.Bucket) error {
		self, kids, err = b.dirNodes(rb, dir)
		if err == nil && self.Entry != nil {
			err = checkDir(self, kids)
		}
		return err
	})
	return self, kids, err
}
