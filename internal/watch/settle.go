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
	// Batch, if positive, bounds the paths handed on at once (by Run and
	// Settled): the ones first seen earliest go first, the rest at once
	// after. A consumer of a burst then finishes (and delivers) a batch
	// before the next is as large as the whole backlog.
	Batch int

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
	return s.take(time.Time{}, true, 0)
}

// Settled hands on at once the paths settled by now, as Run would at its
// next tick: a consumer about to start a batch takes them with what Run
// handed it, instead of leaving them for the batch after. With Batch set,
// it hands on at most room paths (none if room is not positive): what the
// batch has room for.
func (s *Settler) Settled(room int) []Event {
	if s.Batch <= 0 {
		return s.take(time.Now(), false, 0)
	}
	if room <= 0 {
		return nil
	}
	return s.take(time.Now(), false, min(room, s.Batch))
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
		for {
			evs := s.take(time.Now(), false, s.Batch)
			if len(evs) > 0 {
				out(evs)
			}
			if s.Batch <= 0 || len(evs) < s.Batch || ctx.Err() != nil {
				break
			}
			// A full batch: more may be settled already.
		}
	}
}

// take removes and returns the paths settled at now (all with all), at
// most limit of them (if positive): the ones first seen earliest.
func (s *Settler) take(now time.Time, all bool, limit int) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	w, m := s.window(), s.max()
	for path, p := range s.pending {
		if all || p.op.Has(Closed) || now.Sub(p.last) >= w || now.Sub(p.first) >= m {
			out = append(out, Event{Path: path, Op: p.op, First: p.first, Process: p.proc})
		}
	}
	if limit > 0 && len(out) > limit {
		slices.SortFunc(out, func(a, b Event) int {
			if c := a.First.Compare(b.First); c != 0 {
				return c
			}
			return strings.Compare(a.Path, b.Path)
		})
		out = out[:limit]
	}
	for _, ev := range out {
		delete(s.pending, ev.Path)
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Path, b.Path) })
	return out
}
