package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Queued is one event waiting in an [Outbox] for one sink.
type Queued struct {
	Seq  uint64
	Data []byte // the event as JSON
}

// Outbox is the durable queue the [Dispatcher] writes every event to before
// any sink sees it, one queue per sink. internal/daemon supplies it (a bbolt
// file of its own, store.Outbox).
type Outbox interface {
	// Append queues each entry's data for each of its sinks, all in one
	// durable write. A sink whose queue is full counts the event as
	// dropped instead.
	Append(entries []Entry, at time.Time) error
	// Pending returns up to max of sink's oldest queued events.
	Pending(sink string, max int) ([]Queued, error)
	// Remove deletes events sink has accepted.
	Remove(sink string, seqs ...uint64) error
	// Dropped returns how many events sink's full queue turned away, and
	// when the first and the last of them came.
	Dropped(sink string) (n int64, first, last time.Time, err error)
	// ForgetDropped subtracts n from sink's dropped count.
	ForgetDropped(sink string, n int64) error
	// Depth returns how many events wait for sink.
	Depth(sink string) (int, error)
	// Sequence returns the highest host sequence number queued so far.
	Sequence() (uint64, error)
}

// Entry is one event to queue, for the sinks named.
type Entry struct {
	Sinks []string
	// Data is the event as JSON; if Encode is set, the outbox calls it
	// instead, with the host sequence number it gives the event, in the
	// write that queues it.
	Data   []byte
	Encode func(seq uint64) ([]byte, error)
	// Path is file.path, if any: what a full queue turns away is named.
	Path string
}

// DroppedPather is an [Outbox] that keeps the first paths of the events a
// full queue turned away, for the events_dropped summary to name.
type DroppedPather interface {
	DroppedPaths(sink string) ([]string, error)
}

// Sink delivers events somewhere. Send delivers evs (data holds each as
// JSON) in order and returns how many of them, from the first, the
// destination has accepted (written and synced, acknowledged); the
// [Dispatcher] removes those from the outbox and tries the rest again
// later. A Sink is used from one goroutine.
type Sink interface {
	Send(ctx context.Context, evs []*Event, data [][]byte) (int, error)
	Close() error
}

// DataSender is implemented by a [Sink] that sends only the events'
// encoded bytes (a local file, stdout): what it is sent from the outbox
// is not decoded first. SendData is Send without the decoded events.
type DataSender interface {
	SendData(ctx context.Context, data [][]byte) (int, error)
}

// Filter chooses the events a sink gets. The zero value passes all.
type Filter struct {
	// MinSeverity drops events of a lower event.severity.
	MinSeverity int
	// Path, if set, must accept file.path; events without a path (notices,
	// summaries) always pass.
	Path func(path string) bool
	// Event, if set, must accept the event (after MinSeverity and Path).
	Event func(ev *Event) bool
}

// Pass reports whether ev passes f.
func (f Filter) Pass(ev *Event) bool {
	if ev.Event.Severity < f.MinSeverity {
		return false
	}
	if f.Path != nil && ev.File != nil && ev.File.Path != "" && !f.Path(ev.File.Path) {
		return false
	}
	return f.Event == nil || f.Event(ev)
}

// Route is a named sink and its filter.
type Route struct {
	Name   string
	Sink   Sink
	Filter Filter
	// Direct says the sink needs no queue (stdout, a file, syslog): while
	// the outbox cannot be written, events go to it at once.
	Direct bool
}

// Dispatcher writes events to the outbox and delivers them to the sinks,
// at least once: an event leaves a sink's queue only after the sink
// accepted it, so a sink outage or a killed process loses none.
type Dispatcher struct {
	Outbox Outbox
	Routes []Route
	// Host is the host name of events_dropped summaries.
	Host string
	// OnError, if set, is told of each failed delivery (it is retried).
	OnError func(sink string, err error)
	// OnDelivered, if set, is told of the events delivered to a sink, n at
	// a time.
	OnDelivered func(sink string, n int)
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// failing sink; 0 means 500 ms and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// RetryFull is how often, while the outbox cannot be written, the
	// events held are written again and its reserve made again; 0 means
	// 5 s. MaxHeld bounds the events held meanwhile; 0 means 10,000.
	RetryFull time.Duration
	MaxHeld   int
	// OnDropped, if set, is told of each events_dropped summary a sink
	// accepted: n events its full queue turned away.
	OnDropped func(sink string, n int64)
	// OnQueued, if set, is told the highest host sequence number queued
	// after each write to the outbox (the fleet heartbeat reports it).
	OnQueued func(seq uint64)
	// OnFull, if set, is told when the outbox cannot be written, and
	// with nil when it can again.
	OnFull func(err error)

	once  sync.Once
	wake  map[string]chan struct{}
	locks map[string]*sync.Mutex // one Send at a time per sink
	full  fullState
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = map[string]chan struct{}{}
		d.locks = map[string]*sync.Mutex{}
		for _, r := range d.Routes {
			d.wake[r.Name] = make(chan struct{}, 1)
			d.locks[r.Name] = &sync.Mutex{}
		}
	})
}

// Publish writes evs to the outbox, each queued for the sinks whose filter
// it passes, in one durable write. It returns once they are durable, or,
// when the outbox cannot be written, once the direct routes have them and
// the others' are held (see [Health]).
func (d *Dispatcher) Publish(evs ...Event) error { return d.PublishTo(nil, evs...) }

// PublishTo is [Dispatcher.Publish] for the sinks named in only (all,
// if nil): a sink added by a reload is sent the alerts still standing.
func (d *Dispatcher) PublishTo(only []string, evs ...Event) error {
	return d.publish(only, nil, evs)
}

// PublishEncoded is [Dispatcher.Publish] that also hands encoded the JSON
// of each event queued in the outbox as it was queued (with its
// event.sequence): i is its index in evs. An event not queued (for no
// sink, or sent directly while the outbox is full) is not handed on.
func (d *Dispatcher) PublishEncoded(encoded func(i int, data []byte), evs ...Event) error {
	return d.publish(nil, encoded, evs)
}

func (d *Dispatcher) publish(only []string, encoded func(int, []byte), evs []Event) error {
	d.init()
	var entries []Entry
	var queued []*Event
	// encoded is called in this call only: an entry held while the
	// outbox is full is encoded later, by the retry (both under d.full.mu).
	live := true
	for i := range evs {
		ev := evs[i] // a copy: Encode sets its sequence number
		e := d.entry(&ev)
		if encode := e.Encode; encoded != nil {
			e.Encode = func(seq uint64) ([]byte, error) {
				b, err := encode(seq)
				if err == nil && live {
					encoded(i, b)
				}
				return b, err
			}
		}
		if only != nil {
			e.Sinks = slices.DeleteFunc(e.Sinks, func(s string) bool { return !slices.Contains(only, s) })
		}
		if len(e.Sinks) > 0 {
			entries, queued = append(entries, e), append(queued, &ev)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	d.full.mu.Lock()
	woken, _ := d.appendOrDegrade(queued, entries, time.Now(), only)
	live = false
	d.full.mu.Unlock()
	d.wakeUp(woken)
	return nil
}

// Sequence returns the highest host sequence number (event.sequence)
// queued so far: the fleet heartbeat reports it.
func (d *Dispatcher) Sequence() (uint64, error) { return d.Outbox.Sequence() }

// Run delivers what the outbox holds, and what is published later, until
// ctx is done; then it closes the sinks.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range d.Routes {
		g.Go(func() error { return d.deliver(ctx, r) })
	}
	g.Go(func() error { d.recoverFull(ctx); return nil })
	err := g.Wait()
	for _, r := range d.Routes {
		err = errors.Join(err, r.Sink.Close())
	}
	return err
}

// send sends sink the outbox's records data: as they are to a
// [DataSender], decoded to the others. A record that does not decode is
// still sent: the sink gets its bytes, and the fields it reads are empty.
func (d *Dispatcher) send(ctx context.Context, sink Sink, data [][]byte) (int, error) {
	if ds, ok := sink.(DataSender); ok {
		return ds.SendData(ctx, data)
	}
	evs := make([]*Event, len(data))
	for i := range data {
		evs[i] = &Event{}
		_ = json.Unmarshal(data[i], evs[i])
	}
	return sink.Send(ctx, evs, data)
}

// batch is how many queued events a sink's loop reads at once.
const batch = 512

// deliver is one sink's loop: drain its queue, then its dropped count,
// then wait for more; a failure waits (backing off) and tries again.
func (d *Dispatcher) deliver(ctx context.Context, r Route) error {
	minB, maxB := d.MinBackoff, d.MaxBackoff
	if minB <= 0 {
		minB = 500 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = time.Minute
	}
	backoff := minB
	for {
		more, err := d.drain(ctx, r)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if d.OnError != nil {
				d.OnError(r.Name, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxB)
			continue
		}
		backoff = minB
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake[r.Name]:
		}
	}
}

// drain sends one batch; more says there may be more to send.
func (d *Dispatcher) drain(ctx context.Context, r Route) (more bool, err error) {
	q, err := d.Outbox.Pending(r.Name, batch)
	if err != nil {
		return false, err
	}
	if len(q) > 0 {
		data := make([][]byte, len(q))
		for i, item := range q {
			data[i] = item.Data
		}
		d.locks[r.Name].Lock()
		n, err := d.send(ctx, r.Sink, data)
		d.locks[r.Name].Unlock()
		if n > 0 {
			seqs := make([]uint64, n)
			for i := range seqs {
				seqs[i] = q[i].Seq
			}
			if rerr := d.Outbox.Remove(r.Name, seqs...); rerr != nil {
				return false, rerr
			}
			if d.OnDelivered != nil {
				d.OnDelivered(r.Name, n)
			}
		}
		if err != nil {
			return false, err
		}
	}
	if len(q) == batch {
		return true, nil
	}
	n, first, last, err := d.Outbox.Dropped(r.Name)
	if err != nil || n == 0 {
		return false, err
	}
	ev := Dropped(r.Name, n, first, last, d.Host, time.Now())
	if dp, ok := d.Outbox.(DroppedPather); ok {
		if ev.Vigil.Dropped.Paths, err = dp.DroppedPaths(r.Name); err != nil {
			return false, err
		}
	}
	data, err := json.Marshal(&ev)
	if err != nil {
		return false, err
	}
	d.locks[r.Name].Lock()
	_, err = r.Sink.Send(ctx, []*Event{&ev}, [][]byte{data})
	d.locks[r.Name].Unlock()
	if err != nil {
		return false, err
	}
	if err := d.Outbox.ForgetDropped(r.Name, n); err != nil {
		return false, err
	}
	if d.OnDropped != nil {
		d.OnDropped(r.Name, n)
	}
	return false, nil
}
