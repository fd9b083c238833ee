package daemon

import (
	"maps"
	"time"

	"vigil/alerts"
	"vigil/internal/watch"
	"vigil/store"
)

// hintBatch bounds the settled hints verified as one batch: during a
// burst a batch is checked, published and saved within a bounded time
// while the next is checked, instead of the whole backlog at once, which
// delays all of it until the slowest stage is done with all of it.
const hintBatch = 2048

// topUp adds to j, a batch of settled hints the verifier is about to
// start, the hints that settled since the settler took j. The settler
// takes a batch as soon as the previous one is handed on and then waits
// for the verifier: without the top-up, a hint that settles while a batch
// runs waits for that batch and the next one (two batches' time during a
// burst), with it for that batch only. Lost events make it a whole check,
// as in settled.
func (p *pipeline) topUp(j job) job {
	if j.whole {
		return j
	}
	more := p.settler.Settled(p.settler.Batch - len(j.events))
	for _, ev := range more {
		if ev.Op.Has(watch.Lost) {
			return job{whole: true, why: "events_lost"}
		}
	}
	j.events = append(j.events, more...)
	return j
}

// delivery is one verification's results, for the delivery stage.
type delivery struct {
	// evs are published (into the outbox) first; then states, the
	// alerted states the verification changed, are saved, and evs (with
	// standing, the events before the flood filter) as standing alerts.
	evs, standing []alerts.Event
	states        map[string]store.AlertState
	saveStanding  bool
	tm            *stages       // if set, told to Options.onStages
	synced        chan struct{} // if set, closed once done
}

// stage is the ordered delivery stage after the verifier: it publishes a
// batch's events and then saves the alerted states and standing alerts
// the batch changed, one batch after the other, while the verifier
// already checks the next batch. The order of each batch is the order of
// do before it (the outbox write first: a kill -9 before the save repeats
// an alert, never loses one); what the verifier holds in memory for later
// batches is saved after their own events only.
type stage struct {
	p      *pipeline
	items  chan delivery
	done   chan struct{} // closed when run returns
	err    error         // why run stopped early; read after done
	failed chan struct{} // closed when err is set
	retry  map[string]store.AlertState
}

// startStage starts the delivery stage; the caller closes it.
func (p *pipeline) startStage() *stage {
	s := &stage{p: p, items: make(chan delivery, 1), done: make(chan struct{}), failed: make(chan struct{})}
	go s.run()
	return s
}

func (s *stage) run() {
	defer close(s.done)
	for d := range s.items {
		if s.err != nil {
			if d.synced != nil {
				close(d.synced)
			}
			continue // drained, nothing published: the outbox cannot be written
		}
		var encoded map[string][]byte // by event.id: the standing alerts' JSON, as queued
		if d.saveStanding {
			encoded = make(map[string][]byte, len(d.evs))
		}
		err := s.p.disp.PublishEncoded(func(i int, b []byte) {
			if id := d.evs[i].Event.ID; encoded != nil && id != "" {
				encoded[id] = b
			}
		}, d.evs...)
		if err != nil {
			s.err = err
			close(s.failed)
			if d.synced != nil {
				close(d.synced)
			}
			continue
		}
		if d.tm != nil {
			d.tm.published = time.Now()
		}
		var standing map[string][]byte
		if d.saveStanding {
			standing = standingOf(d.standing, encoded)
		}
		s.save(d.states, standing, d.synced != nil)
		if d.tm != nil {
			d.tm.saved = time.Now()
			s.p.o.onStages(d.tm)
		}
		if d.synced != nil {
			close(d.synced)
		}
	}
	s.save(nil, nil, true)
}

// save saves the alerted states m, after the ones whose save failed
// before, and the standing alerts, in one transaction; last gives the
// states up if it fails again: unsaved, they repeat alerts after a
// restart, lose none. Standing alerts not saved are only logged (a sink
// added later may miss them).
func (s *stage) save(m map[string]store.AlertState, standing map[string][]byte, last bool) {
	if len(s.retry) > 0 {
		maps.Copy(s.retry, m)
		m = s.retry
	}
	if err := s.p.outboxDB.SaveAlertsAndStanding(m, standing); err != nil {
		s.p.o.Log.Error().Err(err).Msg("saving the alerted paths and standing alerts; a restart may repeat their alerts, a sink added later miss them")
		if !last && len(m) > 0 {
			s.retry = m
			return
		}
	}
	s.retry = nil
}

// send hands d to the stage; with wait, it returns once d is done.
// It does not select on a context: what the verifier found is delivered
// even as the daemon stops (close drains the stage).
func (s *stage) send(d delivery, wait bool) error {
	if wait {
		d.synced = make(chan struct{})
	}
	select {
	case s.items <- d:
	case <-s.failed:
		return s.err
	}
	if wait {
		<-d.synced
		if s.err != nil {
			return s.err
		}
	}
	return nil
}

// close delivers what is queued and ends the stage.
func (s *stage) close() {
	close(s.items)
	<-s.done
}

// takeDirty returns the alerted states changed since they were last
// taken (or saved), for the stage to save after their events.
func (v *verifier) takeDirty() map[string]store.AlertState {
	m := v.dirtyRestored()
	for p := range v.dirty {
		k := p
		if k == "" {
			k = tamperedKey
		}
		m[k] = store.AlertState{State: v.alerted[p], Resolved: v.resolved[p]}
	}
	clear(v.dirty)
	return m
}
