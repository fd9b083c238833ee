package daemon

import (
	"vigil/alerts"
	"vigil/internal/textdiff"
	"vigil/merkle"
)

// built is one finding of a check, in the order found: its event and
// state.
type built struct {
	path  string
	ev    alerts.Event
	state string
}

// finding builds ch's event (with d, the diff of its kept content, if
// any) into a new entry of c.found. (Building the events of a burst's
// batch on workers, in parallel with the check, was measured: no gain.)
func (c *collect) finding(ch merkle.Change, d *textdiff.Diff) {
	ev := alerts.FromChange(ch, c.v.host, c.now)
	if d != nil {
		ev.SetDiff(d)
	}
	ev.Event.Severity = alerts.SeverityAlert
	ev.SetPhase(c.phase)
	attribute(&ev, c.process(ch))
	c.found = append(c.found, &built{path: ch.Path, ev: ev, state: ev.State()})
}

// foundBuilt adds ev, already built, about path to c.found.
func (c *collect) foundBuilt(path string, ev alerts.Event) {
	c.found = append(c.found, &built{path: path, ev: ev, state: ev.State()})
}

// addFound adds every finding, in the order found.
func (c *collect) addFound() {
	for _, b := range c.found {
		c.addState(b.path, b.ev, b.state)
	}
	c.found = nil
}

// dropFound forgets the findings of a check that failed.
func (c *collect) dropFound() { c.found = nil }
