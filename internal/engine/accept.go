package engine

import "vigil/merkle"

// accept asks Options.Accept about c when a new tree is being built. It
// returns true when c was turned down and so is neither counted nor
// reported: a deletion turned down keeps the recorded entry now, a
// creation or modification is settled by keepRecorded when the scanned
// entry is added.
func (p *pass) accept(c merkle.Change) (bool, error) {
	if p.opts.Accept == nil || p.build == nil {
		return false, nil
	}
	ok, err := p.opts.Accept(c)
	if err != nil || ok {
		return false, err
	}
	p.declined = true
	if c.Action == merkle.Deleted {
		return true, p.add(c.Old, c.Old)
	}
	p.turnedDown = &c
	return true, nil
}

// keepRecorded returns the entry the new tree gets for the scanned entry e:
// e itself, the recorded entry when a change of e was turned down, or nil
// when its creation was.
func (p *pass) keepRecorded(e *merkle.Entry) *merkle.Entry {
	c := p.turnedDown
	if c == nil || c.Path != e.Path {
		return e
	}
	p.turnedDown = nil
	return c.Old // nil for a creation
}
