package watch

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of [Settler].
const (
	DefaultSettle    = 100 * time.Millisecond
	DefaultMaxSettle = 2 * time.Second
)

// Settler coalesces events per path. A path is handed on once no event came
// for it during Window, or Max after its first event at the latest, so that
// a file written continuously is still verified; a path whose writer closed
// it ([Closed]) is handed on at once. The process of the latest event that
// named one is kept. Add may be called from any goroutine; Run hands the
// settled events on from one.
type Settler struct {
	// Window is the settle window; 0 means [DefaultSettle].
	Window time.Duration
	// Max bounds the delay added to a path's first event; 0 means
	// [DefaultMaxSettle].
	Max time.Duration

	mu      sync.Mutex
	pending map[string]*pend
	wake    chan struct{}
	closed  chan struct{} // a path is ready at once
}

type pend struct {
	op          Op
	first, last time.Time
	proc        *Process
}

func (s *Settler) init() {
	if s.pending == nil {
		s.pending = map[string]*pend{}
		s.wake = make(chan struct{}, 1)
		s.closed = make(chan struct{}, 1)
	}
}

func (s *Settler) window() time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return DefaultSettle
}

func (s *Settler) max() time.Duration {
	if s.Max > 0 {
		return s.Max
	}
	return DefaultMaxSettle
}

// Add records ev (a [Changed] or [Tree] event) for its path.
func (s *Settler) Add(ev Event) {
	now := time.Now()
	s.mu.Lock()
	s.init()
	p := s.pending[ev.Path]
	if p == nil {
		p = &pend{first: now}
		s.pending[ev.Path] = p
	}
	p.op |= ev.Op
	p.last = now
	if ev.Process != nil {
		p.proc = ev.Process
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if ev.Op.Has(Closed) {
		select {
		case s.closed <- struct{}{}:
		default:
		}
	}
}

// Len returns the number of paths waiting to settle.
func (s *Settler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Flush hands every pending path on at once, settled or not.
func (s *Settler) Flush() []Event {
	return s.take(time.Time{}, true)
}

// Settled hands on at once the paths settled by now, as Run would at its
// next tick: a consumer about to start a batch takes them with what Run
// handed it, instead of leaving them for the batch after.
func (s *Settler) Settled() []Event {
	return s.take(time.Now(), false)
}

// Run calls out with the events that settled, in batches, until ctx is
// done. out runs on Run's goroutine; events added meanwhile wait.
func (s *Settler) Run(ctx context.Context, out func([]Event)) error {
	s.mu.Lock()
	s.init()
	wake, closed := s.wake, s.closed
	s.mu.Unlock()
	// Pending paths are looked at every tick: a quarter of the window
	// bounds the added delay and keeps a burst's cost linear.
	tick := s.window() / 4
	for {
		if s.Len() == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tick):
		case <-closed:
		}
		if evs := s.take(time.Now(), false); len(evs) > 0 {
			out(evs)
		}
	}
}

// take removes and returns the paths settled at now (all with all).
func (s *Settler) take(now time.Time, all bool) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	w, m := s.window(), s.max()
	for path, p := range s.pending {
		if all || p.op.Has(Closed) || now.Sub(p.last) >= w || now.Sub(p.first) >= m {
			out = append(out, Event{Path: path, Op: p.op, First: p.first, Process: p.proc})
			delete(s.pending, path)
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Path, b.Path) })
	return out
}
