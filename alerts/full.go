package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// When the outbox cannot be written (its filesystem is full), the
// [Dispatcher] degrades instead of failing: the first failure deletes the
// outbox's reserve ([Reserver]) and tries again, so that the backlog of a
// sink that is down keeps growing for a while; once even that fails,
// events go at once to the routes that need no queue ([Route.Direct]:
// stdout, a file, syslog) and are held in memory, bounded, for the others.
// Every [Dispatcher.RetryFull] the held events are written again and the
// reserve made again; when both work the dispatcher is healthy again. An
// event already in the outbox is never lost; the ones held are lost only
// beyond [Dispatcher.MaxHeld] (counted) or if the process ends first.

// Reserver is an [Outbox] that holds disk space in reserve.
type Reserver interface {
	// ReleaseReserve gives the reserved space back to the outbox; it
	// reports whether there was any.
	ReleaseReserve() (bool, error)
	// Reserve holds the space again; it fails while there is no room.
	Reserve() error
}

// Health is the state of the dispatcher's outbox.
type Health struct {
	// Degraded says the outbox's reserve is in use or the outbox cannot
	// be written; Reason says which, Since when.
	Degraded bool
	Reason   string
	Since    time.Time
	// Held is how many events wait in memory for the outbox; Lost counts
	// those that did not fit ([Dispatcher.MaxHeld]) and the sends to a
	// direct route that failed meanwhile.
	Held int
	Lost int64
}

// fullState is the dispatcher's degraded state, guarded by its mutex.
type fullState struct {
	mu       sync.Mutex
	released bool  // the reserve is in use
	err      error // the outbox cannot be written
	since    time.Time
	held     []Entry
	lost     int64
	told     bool // outbox_full was sent, outbox_recovered not yet
}

func (d *Dispatcher) retryFull() time.Duration {
	if d.RetryFull > 0 {
		return d.RetryFull
	}
	return 5 * time.Second
}

func (d *Dispatcher) maxHeld() int {
	if d.MaxHeld > 0 {
		return d.MaxHeld
	}
	return 10_000
}

// Health returns the state of the outbox.
func (d *Dispatcher) Health() Health {
	f := &d.full
	f.mu.Lock()
	defer f.mu.Unlock()
	h := Health{Since: f.since, Held: len(f.held), Lost: f.lost}
	switch {
	case f.err != nil:
		h.Degraded, h.Reason = true, "outbox cannot be written: "+f.err.Error()
	case f.released:
		h.Degraded, h.Reason = true, "outbox reserve in use: its filesystem is full"
	}
	return h
}

// appendOrDegrade writes entries to the outbox; when it cannot, it sends
// evs to the direct routes at once and holds the entries for the others.
// It reports the sinks whose queues grew. Called with f.mu held.
// only, if not nil, limits the direct routes sent to.
func (d *Dispatcher) appendOrDegrade(evs []*Event, entries []Entry, now time.Time, only []string) (woken []string, notice *Event) {
	f := &d.full
	if len(f.held) == 0 {
		err := d.Outbox.Append(entries, now)
		if err != nil && !f.released {
			if r, ok := d.Outbox.(Reserver); ok {
				if had, rerr := r.ReleaseReserve(); had && rerr == nil {
					f.released, f.since = true, now
					err = d.Outbox.Append(entries, now)
				}
			}
		}
		if err == nil {
			d.queued()
			return sinksOf(entries), nil
		}
		f.err, f.since = err, now
		if !f.told {
			if d.OnFull != nil {
				d.OnFull(err)
			}
			ev := Notice("outbox_full", err.Error(), d.Host, now)
			ev.Event.Severity = SeverityWarning
			notice, f.told = &ev, true
			evs = append([]*Event{notice}, evs...)
			entries = append([]Entry{d.entry(notice)}, entries...)
		}
	}
	d.sendDirect(evs, only)
	d.hold(entries)
	return nil, notice
}

// entry is ev's outbox entry for the routes it passes, Sinks nil if none.
func (d *Dispatcher) entry(ev *Event) Entry {
	e := Entry{Encode: func(seq uint64) ([]byte, error) {
		ev.Event.Sequence = seq
		return json.Marshal(ev)
	}}
	for _, r := range d.Routes {
		if r.Filter.Pass(ev) {
			e.Sinks = append(e.Sinks, r.Name)
		}
	}
	if ev.File != nil {
		e.Path = ev.File.Path
	}
	return e
}

func sinksOf(entries []Entry) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range entries {
		for _, s := range e.Sinks {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// sendDirect sends evs, without a sequence number, to each direct route
// (of only, if not nil) whose filter they pass; what a route does not
// accept is lost, counted.
func (d *Dispatcher) sendDirect(evs []*Event, only []string) {
	for _, r := range d.Routes {
		if !r.Direct || only != nil && !slices.Contains(only, r.Name) {
			continue
		}
		var out []*Event
		var data [][]byte
		for _, ev := range evs {
			if !r.Filter.Pass(ev) {
				continue
			}
			c := *ev
			c.Event.Sequence = 0
			b, err := json.Marshal(&c)
			if err != nil {
				d.full.lost++
				continue
			}
			out, data = append(out, &c), append(data, b)
		}
		if len(out) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d.locks[r.Name].Lock()
		n, err := r.Sink.Send(ctx, out, data)
		d.locks[r.Name].Unlock()
		cancel()
		if n < len(out) {
			d.full.lost += int64(len(out) - n)
			if d.OnError != nil {
				d.OnError(r.Name, fmt.Errorf("outbox full, %d events not sent: %w", len(out)-n, err))
			}
		}
		if d.OnDelivered != nil && n > 0 {
			d.OnDelivered(r.Name, n)
		}
	}
}

// hold keeps entries, less their direct routes, for the outbox.
func (d *Dispatcher) hold(entries []Entry) {
	direct := map[string]bool{}
	for _, r := range d.Routes {
		direct[r.Name] = r.Direct
	}
	for _, e := range entries {
		var sinks []string
		for _, s := range e.Sinks {
			if !direct[s] {
				sinks = append(sinks, s)
			}
		}
		if len(sinks) == 0 {
			continue
		}
		if len(d.full.held) >= d.maxHeld() {
			d.full.lost++
			continue
		}
		d.full.held = append(d.full.held, Entry{Sinks: sinks, Data: e.Data, Encode: e.Encode, Path: e.Path})
	}
}

// recoverFull makes the outbox's reserve, then retries, every RetryFull
// until ctx is done, what a full outbox left undone; at the end it tries
// once more.
func (d *Dispatcher) recoverFull(ctx context.Context) {
	if r, ok := d.Outbox.(Reserver); ok && r.Reserve() != nil {
		// No room for it: degraded (Health says so) until there is.
		f := &d.full
		f.mu.Lock()
		f.released, f.since = true, time.Now()
		f.mu.Unlock()
	}
	t := time.NewTicker(d.retryFull())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.retry()
			return
		case <-t.C:
			d.retry()
		}
	}
}

// retry writes the held events and makes the reserve again.
func (d *Dispatcher) retry() {
	f := &d.full
	f.mu.Lock()
	var woken []string
	var recovered *Event
	if len(f.held) > 0 {
		if err := d.Outbox.Append(f.held, time.Now()); err != nil {
			f.err = err
			f.mu.Unlock()
			return
		}
		woken, f.held = sinksOf(f.held), nil
		d.queued()
	}
	f.err = nil
	if f.released {
		if r, ok := d.Outbox.(Reserver); ok && r.Reserve() == nil {
			f.released = false
		}
	}
	if f.told && !f.released { // written again, with the reserve back
		ev := Notice("outbox_recovered", fmt.Sprintf("outbox written again, its reserve made again; %d events lost meanwhile", f.lost), d.Host, time.Now())
		recovered, f.told = &ev, false
	}
	if d.OnFull != nil && recovered != nil {
		d.OnFull(nil)
	}
	f.mu.Unlock()
	d.wakeUp(woken)
	if recovered != nil {
		d.publishNotice(*recovered)
	}
}

func (d *Dispatcher) wakeUp(names []string) {
	for _, n := range names {
		select {
		case d.wake[n] <- struct{}{}:
		default:
		}
	}
}

// publishNotice publishes a notice of the dispatcher's own; Publish fails
// only where the outbox cannot be written, and then degrades instead.
func (d *Dispatcher) publishNotice(ev Event) {
	if err := d.Publish(ev); err != nil {
		panic("alerts: Publish failed: " + err.Error()) // it returns nil
	}
}

// queued tells OnQueued the highest sequence number queued.
func (d *Dispatcher) queued() {
	if d.OnQueued == nil {
		return
	}
	if seq, err := d.Outbox.Sequence(); err == nil {
		d.OnQueued(seq)
	}
}
