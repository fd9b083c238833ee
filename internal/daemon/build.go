package daemon

import (
	"runtime"
	"sync"

	"vigil/alerts"
	"vigil/internal/textdiff"
	"vigil/merkle"
)

// buildAfter is how many changes of one check are turned into events on
// the verifier's goroutine before the rest are built on workers: an idle
// write's alert pays no hand-off, a burst's batch is built on every core.
const buildAfter = 64

// built is one finding of a check, in the order found: its event and
// state, once built (see collect.found).
type built struct {
	path  string
	ev    alerts.Event
	state string
}

// builder builds the events of a check's changes on workers: building
// (alerts.FromChange, the classification, the state's encoding and hash)
// is most of a created file's cost on the verifier's goroutine, and
// depends on the change alone. What depends on the verifier's state (the
// alerted paths, the changes and paths seen) stays on its goroutine.
type builder struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func (b *builder) start() {
	b.jobs = make(chan func(), 256)
	for range max(runtime.GOMAXPROCS(0), 1) {
		go func() {
			for job := range b.jobs {
				job()
				b.wg.Done()
			}
		}()
	}
}

// finding builds ch's event (with d, the diff of its kept content, if
// any) into a new entry of c.found: at once for the first buildAfter, on
// workers after.
func (c *collect) finding(ch merkle.Change, d *textdiff.Diff) {
	// The check may reuse what ch points to once its report returns.
	if ch.New != nil {
		n := *ch.New
		ch.New = &n
	}
	if ch.Old != nil {
		o := *ch.Old
		ch.Old = &o
	}
	b := &built{path: ch.Path}
	c.found = append(c.found, b)
	proc := c.process(ch)
	build := func() {
		ev := alerts.FromChange(ch, c.v.host, c.now)
		if d != nil {
			ev.SetDiff(d)
		}
		ev.Event.Severity = alerts.SeverityAlert
		ev.SetPhase(c.phase)
		attribute(&ev, proc)
		b.ev, b.state = ev, ev.State()
	}
	if len(c.found) <= buildAfter {
		build()
		return
	}
	if c.builder == nil {
		c.builder = &builder{}
		c.builder.start()
	}
	c.builder.wg.Add(1)
	c.builder.jobs <- build
}

// foundBuilt adds ev, already built, about path to c.found.
func (c *collect) foundBuilt(path string, ev alerts.Event) {
	c.found = append(c.found, &built{path: path, ev: ev, state: ev.State()})
}

// addFound waits for the events being built and adds every finding, in
// the order found.
func (c *collect) addFound() {
	c.waitBuilt()
	for _, b := range c.found {
		c.addState(b.path, b.ev, b.state)
	}
	c.found = nil
}

// dropFound forgets the findings of a check that failed.
func (c *collect) dropFound() {
	c.waitBuilt()
	c.found = nil
}

func (c *collect) waitBuilt() {
	if c.builder != nil {
		close(c.builder.jobs)
		c.builder.wg.Wait()
		c.builder = nil
	}
}
