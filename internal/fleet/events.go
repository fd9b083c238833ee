package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// hostEvent is what the witness reads of a host's alert on the events
// stream: the ECS host.name and event.sequence (the host's outbox
// sequence, 1 for its first event).
type hostEvent struct {
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	Event struct {
		Sequence uint64 `json:"sequence"`
	} `json:"event"`
}

// sequences tracks the event sequences of one host seen on the stream:
// all up to contiguous, and those above it in above.
type sequences struct {
	contiguous uint64
	above      map[uint64]bool
}

func (s *sequences) add(n uint64) {
	if n <= s.contiguous || s.above[n] {
		return
	}
	if s.above == nil {
		s.above = map[uint64]bool{}
	}
	s.above[n] = true
	for s.above[s.contiguous+1] {
		delete(s.above, s.contiguous+1)
		s.contiguous++
	}
}

// gap returns the first and last sequence of the lowest hole below the
// highest sequence seen; ok is false when there is none.
func (s *sequences) gap() (from, to uint64, ok bool) {
	if len(s.above) == 0 {
		return 0, 0, false
	}
	lowest := slices.Min(slices.Collect(maps.Keys(s.above)))
	return s.contiguous + 1, lowest - 1, true
}

// tracker is the witness's view of every host's event sequences: a cache
// of the events stream, rebuilt by reading it from the start.
type tracker struct {
	mu    sync.Mutex
	hosts map[string]*sequences
	seen  int
}

func (t *tracker) observe(data []byte) {
	var ev hostEvent
	if json.Unmarshal(data, &ev) != nil || ev.Host.Name == "" || ev.Event.Sequence == 0 {
		return // no sequence: a host that does not number its events
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hosts == nil {
		t.hosts = map[string]*sequences{}
	}
	s := t.hosts[ev.Host.Name]
	if s == nil {
		s = &sequences{}
		t.hosts[ev.Host.Name] = s
	}
	s.add(ev.Event.Sequence)
	t.seen++
}

// gap returns host's lowest hole (see [sequences.gap]).
func (t *tracker) gap(host string) (from, to uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.hosts[host]; s != nil {
		return s.gap()
	}
	return 0, 0, false
}

// Observed returns how many numbered host events the witness has read
// from the events stream.
func (w *Witness) Observed() int {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	return w.events.seen
}

// followEvents reads the events stream from its start into the tracker
// until the returned stop is called; no stream is no tracking.
func (w *Witness) followEvents(ctx context.Context) (stop func(), err error) {
	cons, err := w.conn.js.OrderedConsumer(ctx, StreamEvents, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { w.events.observe(m.Data()) })
	if err != nil {
		return nil, err
	}
	return cc.Stop, nil
}
