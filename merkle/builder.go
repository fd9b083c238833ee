package merkle

import "fmt"

// Node is an entry with its node hash.
type Node struct {
	Entry *Entry
	Hash  Hash
}

// Builder computes node hashes from entries that arrive in [ComparePaths]
// order (every directory before its subtree) and hands each finished node to
// its emit function in post-order: a directory after all of its subtree. It
// holds one hasher per open directory, each O(log fan-out) in size, so memory
// grows with tree depth only.
//
// The first entry added is the root of the tree; every later one must lie
// below it, and its parent directory must have been added before it.
type Builder struct {
	emit    func(Node) error
	version Version
	stack   []frame
	free    []dirHasher
	buf     []byte
	root    Hash
	done    bool
	n       int
	// portable builds the portable tree of the attributes in keep (see
	// [NewPortableBuilder]).
	portable bool
	keep     Attr
}

// dirHasher is a [DirHasher] or a [DirHasherV1].
type dirHasher interface {
	reset(e *Entry)
	add(name string, h Hash)
	sum() Hash
}

func (d *DirHasher) reset(e *Entry)            { d.Reset(e) }
func (d *DirHasher) add(_ string, h Hash)      { d.Add(h) }
func (d *DirHasher) sum() Hash                 { return d.Sum() }
func (d *DirHasherV1) reset(e *Entry)          { d.Reset(e) }
func (d *DirHasherV1) add(name string, h Hash) { d.Add(name, h) }
func (d *DirHasherV1) sum() Hash               { return d.Sum() }

type frame struct {
	e    *Entry
	h    dirHasher
	last string // name of the last child added
	any  bool
}

// NewBuilder returns a Builder of [V2] node hashes that passes finished nodes
// to emit, which may be nil. An error from emit stops the build and is
// returned by Add or Finish.
func NewBuilder(emit func(Node) error) *Builder { return NewBuilderVersion(V2, emit) }

// NewBuilderVersion is [NewBuilder] for the given hash scheme.
func NewBuilderVersion(v Version, emit func(Node) error) *Builder {
	if emit == nil {
		emit = func(Node) error { return nil }
	}
	return &Builder{emit: emit, version: v}
}

// Add adds the next entry. A directory entry is kept (not copied) until its
// subtree is complete, so the caller must not modify it after Add.
func (b *Builder) Add(e *Entry) error { return b.add(e, nil) }

// add is Add; a non-nil known is the leaf hash of e, already computed.
func (b *Builder) add(e *Entry, known *Hash) error {
	if err := b.checkOrder(e); err != nil {
		return err
	}
	b.n++
	if e.Type == TypeDir {
		b.stack = append(b.stack, frame{e: e, h: b.hasher(e)})
		return nil
	}
	var h Hash
	switch {
	case known != nil:
		h = *known
	case b.portable:
		h, b.buf = PortableLeafHash(e, b.keep, b.buf)
	case b.version == V1:
		h, b.buf = LeafHashV1(e, b.buf)
	default:
		h, b.buf = LeafHash(e, b.buf)
	}
	if len(b.stack) > 0 {
		b.stack[len(b.stack)-1].h.add(e.Name(), h)
	} else {
		b.root, b.done = h, true
	}
	return b.emit(Node{Entry: e, Hash: h})
}

// checkOrder is the ordering check of [Builder.Add]: e must lie below the
// root, its parent must be the innermost open directory, and its name must
// follow its previous sibling's.
func (b *Builder) checkOrder(e *Entry) error {
	if b.done {
		return fmt.Errorf("%s: %w", e.Path, ErrOrphan)
	}
	if b.n == 0 {
		return nil
	}
	for len(b.stack) > 0 && !Within(e.Path, b.stack[len(b.stack)-1].e.Path) {
		if err := b.close(); err != nil {
			return err
		}
	}
	if len(b.stack) == 0 {
		return fmt.Errorf("%s: %w", e.Path, ErrOrphan)
	}
	top := &b.stack[len(b.stack)-1]
	if Parent(e.Path) != top.e.Path {
		if e.Path == top.e.Path {
			return fmt.Errorf("%s: %w", e.Path, ErrUnsorted)
		}
		return fmt.Errorf("%s: %w", e.Path, ErrOrphan)
	}
	name := e.Name()
	if top.any && name <= top.last {
		return fmt.Errorf("%s: %w", e.Path, ErrUnsorted)
	}
	top.last, top.any = name, true
	return nil
}

func (b *Builder) hasher(e *Entry) dirHasher {
	if n := len(b.free); n > 0 {
		h := b.free[n-1]
		b.free = b.free[:n-1]
		h.reset(e)
		return h
	}
	if b.portable {
		h := &portableDirHasher{keep: b.keep}
		h.reset(e)
		return h
	}
	if b.version == V1 {
		return NewDirHasherV1(e)
	}
	return NewDirHasher(e)
}

// close finishes the innermost open directory.
func (b *Builder) close() error {
	f := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	sum := f.h.sum()
	b.free = append(b.free, f.h)
	if len(b.stack) > 0 {
		b.stack[len(b.stack)-1].h.add(f.e.Name(), sum)
	} else {
		b.root, b.done = sum, true
	}
	return b.emit(Node{Entry: f.e, Hash: sum})
}

// Finish closes every open directory and returns the root hash. It returns
// the zero hash when no entry was added.
func (b *Builder) Finish() (Hash, error) {
	for len(b.stack) > 0 {
		if err := b.close(); err != nil {
			return Hash{}, err
		}
	}
	b.done = true
	return b.root, nil
}

// Count returns the number of entries added so far.
func (b *Builder) Count() int { return b.n }
