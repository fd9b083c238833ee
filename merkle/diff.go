package merkle

import "fmt"

// Action is what happened to a path.
type Action uint8

// Actions, named as in the ECS event.action field.
const (
	Created            Action = iota + 1 // the path appeared
	Deleted                              // the path is gone
	Updated                              // its content or type changed
	AttributesModified                   // only its attributes changed
	Moved                                // the same file appeared at another path
)

var actionNames = [...]string{"", "created", "deleted", "updated", "attributes_modified", "moved"}

func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return "invalid"
}

// Change is one difference between two trees.
type Change struct {
	Action Action
	// Path is the path the change is about: the new path of a move.
	Path string
	// Old and New are the entry before and after; Old is nil for Created,
	// New is nil for Deleted. For Moved, Old.Path is where it came from.
	Old, New *Entry
	// Changed lists the monitored attributes that differ (Updated,
	// AttributesModified, Moved).
	Changed Attr
}

// Modified returns the change for a path present on both sides, ok false if
// nothing monitored differs.
func Modified(old, cur *Entry) (Change, bool) { return modified(old, cur) }

// modified returns the change for a path present on both sides, ok false if
// nothing monitored differs.
func modified(old, cur *Entry) (Change, bool) {
	d := Compare(old, cur)
	if d == 0 {
		return Change{}, false
	}
	a := AttributesModified
	if d&(AttrContent|AttrType) != 0 {
		a = Updated
	}
	return Change{Action: a, Path: cur.Path, Old: old, New: cur, Changed: d}, true
}

// StreamDiff compares a stream of current entries, pushed with [StreamDiff.Add],
// with a stream of recorded entries it pulls from next, both in [ComparePaths]
// order. It is how a live scan is checked against a baseline in one pass.
type StreamDiff struct {
	next    func() (*Entry, error)
	emit    func(Change) error
	old     *Entry // next recorded entry not yet matched
	eof     bool
	last    string
	n       int
	lastOld string
	nOld    int
	match   *Entry // the recorded entry the last Add matched
}

// NewStreamDiff returns a StreamDiff pulling recorded entries from next, which
// returns nil, nil at the end, and passing changes to emit in path order.
func NewStreamDiff(next func() (*Entry, error), emit func(Change) error) *StreamDiff {
	return &StreamDiff{next: next, emit: emit}
}

func (d *StreamDiff) peek() (*Entry, error) {
	if d.old == nil && !d.eof {
		e, err := d.next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			d.eof = true
		} else {
			if d.nOld > 0 && ComparePaths(d.lastOld, e.Path) >= 0 {
				return nil, fmt.Errorf("recorded %s: %w", e.Path, ErrUnsorted)
			}
			d.nOld++
			d.lastOld = e.Path
		}
		d.old = e
	}
	return d.old, nil
}

// Add compares the next current entry.
func (d *StreamDiff) Add(cur *Entry) error {
	if d.n > 0 && ComparePaths(d.last, cur.Path) >= 0 {
		return fmt.Errorf("%s: %w", cur.Path, ErrUnsorted)
	}
	d.n++
	d.last = cur.Path
	d.match = nil
	for {
		old, err := d.peek()
		if err != nil {
			return err
		}
		c := 1
		if old != nil {
			c = ComparePaths(old.Path, cur.Path)
		}
		switch {
		case c < 0:
			d.old = nil
			if err := d.emit(Change{Action: Deleted, Path: old.Path, Old: old}); err != nil {
				return err
			}
			continue
		case c == 0:
			d.old, d.match = nil, old
			if ch, ok := modified(old, cur); ok {
				return d.emit(ch)
			}
			return nil
		}
		return d.emit(Change{Action: Created, Path: cur.Path, New: cur})
	}
}

// Matched returns the recorded entry at the path of the last entry added,
// nil if it had none (it was created).
func (d *StreamDiff) Matched() *Entry { return d.match }

// Finish reports every recorded entry not matched as deleted.
func (d *StreamDiff) Finish() error {
	for {
		old, err := d.peek()
		if err != nil || old == nil {
			return err
		}
		d.old = nil
		if err := d.emit(Change{Action: Deleted, Path: old.Path, Old: old}); err != nil {
			return err
		}
	}
}

// Tree is a stored Merkle tree, read by [Diff].
type Tree interface {
	// Node returns the node at path; ok is false if there is none.
	Node(path string) (n Node, ok bool, err error)
	// Children returns the direct children of the directory at path in name
	// order.
	Children(path string) ([]Node, error)
}

// Diff compares the subtrees at path of a (before) and b (after), descending
// only into directories whose node hashes differ, and passes every change to
// emit in path order. Every path of an added or removed subtree is reported.
func Diff(a, b Tree, path string, emit func(Change) error) error {
	na, oka, err := a.Node(path)
	if err != nil {
		return err
	}
	nb, okb, err := b.Node(path)
	if err != nil {
		return err
	}
	return diffNodes(a, b, na, oka, nb, okb, emit)
}

func diffNodes(a, b Tree, na Node, oka bool, nb Node, okb bool, emit func(Change) error) error {
	switch {
	case !oka && !okb:
		return nil
	case !oka:
		return walkAll(b, nb, emit, func(e *Entry) Change { return Change{Action: Created, Path: e.Path, New: e} })
	case !okb:
		return walkAll(a, na, emit, func(e *Entry) Change { return Change{Action: Deleted, Path: e.Path, Old: e} })
	}
	if na.Hash == nb.Hash {
		return nil
	}
	if ch, ok := modified(na.Entry, nb.Entry); ok {
		if err := emit(ch); err != nil {
			return err
		}
	}
	aDir, bDir := na.Entry.Type == TypeDir, nb.Entry.Type == TypeDir
	switch {
	case aDir && bDir:
		return diffChildren(a, b, na.Entry.Path, emit)
	case aDir:
		return walkChildren(a, na.Entry.Path, emit, func(e *Entry) Change { return Change{Action: Deleted, Path: e.Path, Old: e} })
	case bDir:
		return walkChildren(b, nb.Entry.Path, emit, func(e *Entry) Change { return Change{Action: Created, Path: e.Path, New: e} })
	}
	return nil
}

func diffChildren(a, b Tree, dir string, emit func(Change) error) error {
	ca, err := a.Children(dir)
	if err != nil {
		return err
	}
	cb, err := b.Children(dir)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ca) || j < len(cb) {
		c := 0
		switch {
		case i == len(ca):
			c = 1
		case j == len(cb):
			c = -1
		default:
			c = ComparePaths(ca[i].Entry.Path, cb[j].Entry.Path)
		}
		var err error
		switch {
		case c < 0:
			err = diffNodes(a, b, ca[i], true, Node{}, false, emit)
			i++
		case c > 0:
			err = diffNodes(a, b, Node{}, false, cb[j], true, emit)
			j++
		default:
			err = diffNodes(a, b, ca[i], true, cb[j], true, emit)
			i++
			j++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walkAll reports n and its whole subtree.
func walkAll(t Tree, n Node, emit func(Change) error, mk func(*Entry) Change) error {
	if err := emit(mk(n.Entry)); err != nil {
		return err
	}
	if n.Entry.Type != TypeDir {
		return nil
	}
	return walkChildren(t, n.Entry.Path, emit, mk)
}

func walkChildren(t Tree, dir string, emit func(Change) error, mk func(*Entry) Change) error {
	kids, err := t.Children(dir)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := walkAll(t, k, emit, mk); err != nil {
			return err
		}
	}
	return nil
}
