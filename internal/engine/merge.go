package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// pass is one scan merged with a stored baseline, in path order.
type pass struct {
	opts   *Options
	diff   *merkle.StreamDiff
	verify *store.Verifier
	build  interface{ Add(*merkle.Entry) error } // nil when no new tree is built
	// skip holds the directories whose contents could not be read, in
	// path order, whose recorded subtrees the diff has not passed yet.
	skip []string
	// carry is the recorded entry standing in for a scanned entry that
	// could not be lstat'ed (its type is unknown).
	carry *merkle.Entry
	held  []merkle.Change
	res   *Result

	// w, if set, receives the new tree; a delta writer (delta true) only
	// what differs from the baseline read.
	w     *store.Writer
	delta bool
	// dirHash holds the stored node hash of each recorded directory read
	// and not yet finished; olds maps each open directory of the new tree
	// to its recorded entry (nil if new); leafOld is the recorded entry of
	// the leaf being added.
	dirHash map[*merkle.Entry]merkle.Hash
	olds    map[*merkle.Entry]*merkle.Entry
	leafOld *merkle.Entry
	// scopes are a scoped update's subtrees; anc collects the directories
	// the scan found above them.
	scopes []string
	anc    map[string]*merkle.Entry
	// turnedDown is the change Options.Accept turned down for the entry
	// the scan is at (see accept.go); declined says one was.
	turnedDown *merkle.Change
	declined   bool
	// shallow are the directories whose own entry a Btrfs plan reads
	// again, with the attributes to read (see plan).
	shallow map[string]merkle.Attr
	fresh   map[string]*merkle.Entry // the shallow directories, read again
	// keep, if set, makes the diffs of kept content and keeps the
	// content of what w writes (see content.go).
	keep *keeper
	// nixEntry is the Nix snapshot file's entry in the new tree, as
	// emitted; nixGone says a delta deleted it (see nixtree.go).
	nixEntry *merkle.Entry
	nixGone  bool
}

// next returns the pull function over the baseline for the StreamDiff,
// feeding every recorded node to the verifier on the way.
func (p *pass) next(it *store.Iter) func() (*merkle.Entry, error) {
	return func() (*merkle.Entry, error) {
		n, err := it.Next()
		if err != nil || n.Entry == nil {
			return nil, err
		}
		if p.verify != nil {
			p.verify.Add(n)
		}
		if p.dirHash != nil && n.Entry.Type == merkle.TypeDir {
			p.dirHash[n.Entry] = n.Hash
		}
		return n.Entry, nil
	}
}

// change handles one change from the StreamDiff.
func (p *pass) change(c merkle.Change) error {
	if c.Action == merkle.Deleted {
		if p.hidden(c.Old.Path) {
			if p.build != nil {
				return p.add(c.Old, c.Old)
			}
			return nil
		}
	}
	if done, err := p.accept(c); done || err != nil {
		return err
	}
	if c.Action == merkle.Deleted && p.delta {
		delete(p.dirHash, c.Old)
		p.noteNixGone(c.Old)
		if err := p.w.Delete(c.Old); err != nil {
			return err
		}
	}
	if c.Old != nil && c.New != nil && c.New.Type == merkle.TypeUnknown && c.New.Err != "" {
		p.carry = c.Old
	}
	if c.Action == merkle.Created || c.Action == merkle.Deleted {
		p.held = append(p.held, c)
		return nil
	}
	p.res.Changed++
	return p.report(c)
}

func (p *pass) report(c merkle.Change) error {
	r := p.opts.report()
	if dr, ok := r.(DiffReporter); ok {
		if d := p.keep.diff(c); d != nil {
			return dr.ChangeDiff(c, d)
		}
	}
	return r.Change(c)
}

// onError records a per-path error; a directory whose contents could not be
// read hides, rather than deletes, what was recorded below it.
func (p *pass) onError(path string, err error) error {
	p.res.Errors++
	if errors.Is(err, scanner.ErrUnlisted) {
		p.skip = append(p.skip, path)
	}
	return p.opts.report().Error(path, err)
}

// visit takes the next scanned entry.
func (p *pass) visit(e *merkle.Entry) error {
	p.res.Entries++
	if p.anc != nil && !insideAny(e.Path, p.scopes) {
		p.anc[e.Path] = e // above a scoped update's subtrees
		return nil
	}
	if p.diff == nil {
		return p.build.Add(e) // a first baseline: nothing to compare with
	}
	if err := p.diff.Add(e); err != nil {
		return err
	}
	for len(p.skip) > 0 && !merkle.Within(e.Path, p.skip[0]) && merkle.ComparePaths(e.Path, p.skip[0]) > 0 {
		p.skip = p.skip[1:] // its recorded subtree lies before e: all passed
	}
	if p.carry != nil && p.carry.Path == e.Path {
		old := *p.carry
		old.Err = e.Err // keep the record, and why it could not be verified
		e = &old
	}
	p.carry = nil
	if e = p.keepRecorded(e); e == nil {
		return nil
	}
	if p.build != nil {
		return p.add(e, p.diff.Matched())
	}
	return nil
}

// add adds e, whose recorded entry is old (nil if none), to the new tree.
// Only a delta's emit compares with old: elsewhere (a check's recomputed
// root) it is not kept, or a directory's recorded entry would live until
// the pass ends (7 MB for a million files).
func (p *pass) add(e, old *merkle.Entry) error {
	if p.w == nil || !p.delta {
		if hb, ok := p.build.(hashedAdder); ok && old != nil && p.verify != nil {
			if h, ok := p.verify.LeafHash(old); ok && merkle.SameLeaf(old, e) {
				return hb.AddHashed(e, h) // the leaf the verifier just hashed
			}
		}
		return p.build.Add(e)
	}
	if e.Type == merkle.TypeDir {
		if p.olds == nil {
			p.olds = map[*merkle.Entry]*merkle.Entry{}
		}
		p.olds[e] = old
	} else {
		p.leafOld = old
	}
	return p.build.Add(e)
}

// emit takes each finished node of the new tree: a whole baseline writes
// them all, a delta those that differ from what was recorded.
func (p *pass) emit(n merkle.Node) error {
	if p.w == nil {
		return nil
	}
	p.noteNix(n.Entry)
	if !p.delta {
		if err := p.keep.keep(n.Entry, nil); err != nil {
			return err
		}
		return p.w.Add(n)
	}
	var old *merkle.Entry
	same := true
	if n.Entry.Type != merkle.TypeDir {
		old, p.leafOld = p.leafOld, nil
	} else {
		var ok bool
		if old, ok = p.olds[n.Entry]; !ok {
			return fmt.Errorf("%s: directory finished but never added", n.Entry.Path)
		}
		delete(p.olds, n.Entry)
		if old != nil {
			h, ok := p.dirHash[old]
			same = ok && h == n.Hash
			delete(p.dirHash, old)
		}
	}
	if old != nil && same && store.SameRecord(old, n.Entry) {
		return nil
	}
	if err := p.keep.keep(n.Entry, old); err != nil {
		return err
	}
	return p.w.Put(n, old)
}

// hidden reports whether path lies in a directory whose contents could not
// be read.
func (p *pass) hidden(path string) bool {
	for _, s := range p.skip {
		if merkle.Within(path, s) {
			return true
		}
	}
	return false
}

// run scans roots with opts merged against the baseline iterator (nil for
// none), then reports the held creations and deletions, paired into moves.
func (p *pass) run(ctx context.Context, roots []string, sopts scanner.Options, it *store.Iter) error {
	if it != nil {
		p.diff = merkle.NewStreamDiff(p.next(it), p.change)
	}
	sopts.OnError = p.onError
	if err := scanner.Scan(ctx, roots, sopts, p.visit); err != nil {
		return err
	}
	if p.diff != nil {
		if err := p.diff.Finish(); err != nil {
			return err
		}
	}
	if p.verify != nil {
		p.res.Tampered = p.verify.Finish()
	}
	if p.anc != nil {
		return nil // a scoped update reports after recording new parents
	}
	return p.flushHeld()
}

// flushHeld pairs moves and reports the held changes in path order.
func (p *pass) flushHeld() error {
	held := merkle.PairMoves(p.held)
	slices.SortStableFunc(held, func(a, b merkle.Change) int { return merkle.ComparePaths(a.Path, b.Path) })
	for _, c := range held {
		switch c.Action {
		case merkle.Created:
			p.res.Added++
		case merkle.Deleted:
			p.res.Removed++
		case merkle.Moved:
			p.res.Moved++
		}
		if err := p.report(c); err != nil {
			return err
		}
	}
	p.held = nil
	return nil
}
