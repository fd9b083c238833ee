package watch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// settled runs a Settler in a bubble and records when each batch came out,
// relative to the start.
// settled records the batches a Settler hands on; the test reads them
// through its methods (the settler's goroutine writes them: a timer that
// fires in the bubble is no synchronization the race detector sees).
type settled struct {
	mu   sync.Mutex
	at_  []time.Duration
	evs_ [][]Event
	stop func()
}

func (r *settled) evs() [][]Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs_)
}

func (r *settled) at() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at_)
}

func startSettler(s *Settler) *settled {
	r := &settled{}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx, func(evs []Event) {
			r.mu.Lock()
			r.at_ = append(r.at_, time.Since(start))
			r.evs_ = append(r.evs_, evs)
			r.mu.Unlock()
		})
	}()
	r.stop = func() { cancel(); <-done }
	return r
}

func TestSettleCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Settler{}
		r := startSettler(s)
		for range 5 { // five writes 20 ms apart: one path, one event
			s.Add(Event{Path: "/f", Op: Changed})
			time.Sleep(20 * time.Millisecond)
		}
		s.Add(Event{Path: "/d", Op: Tree})
		time.Sleep(time.Second)
		synctest.Wait()
		r.stop()
		var all []Event
		for _, b := range r.evs() {
			all = append(all, b...)
		}
		start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // synctest's epoch
		want := []Event{{Path: "/d", Op: Tree, First: start.Add(100 * time.Millisecond)}, {Path: "/f", Op: Changed, First: start}}
		if diff := cmp.Diff(want, all, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
			t.Errorf("settled events (-want +got):\n%s", diff)
		}
		// /f's last event was at 80 ms: settled 100 ms later, give or take
		// one tick (25 ms).
		if len(r.at()) == 0 || r.at()[0] < 180*time.Millisecond || r.at()[0] > 230*time.Millisecond {
			t.Errorf("first batch at %v, want 180-230 ms", r.at())
		}
	})
}

func TestSettleUpperBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Settler{}
		r := startSettler(s)
		// Written every 50 ms for 5 s: never quiet for 100 ms.
		for range 100 {
			s.Add(Event{Path: "/log", Op: Changed})
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		r.stop()
		if len(r.at()) < 2 {
			t.Fatalf("batches at %v: want one at most every 2 s", r.at())
		}
		if r.at()[0] > DefaultMaxSettle+50*time.Millisecond {
			t.Errorf("first batch after %v, want by %v (the upper bound)", r.at()[0], DefaultMaxSettle)
		}
		for i := 1; i < len(r.at())-1; i++ {
			if gap := r.at()[i] - r.at()[i-1]; gap > DefaultMaxSettle+50*time.Millisecond {
				t.Errorf("batch %d came %v after the one before, want at most %v", i, gap, DefaultMaxSettle)
			}
		}
	})
}

func TestSettleFlush(t *testing.T) {
	s := &Settler{}
	s.Add(Event{Path: "/b", Op: Changed})
	s.Add(Event{Path: "/a", Op: Tree})
	s.Add(Event{Path: "/b", Op: Tree})
	got := s.Flush()
	want := []Event{{Path: "/a", Op: Tree}, {Path: "/b", Op: Changed | Tree}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Event{}, "First")); diff != "" {
		t.Errorf("Flush() (-want +got):\n%s", diff)
	}
	if s.Len() != 0 {
		t.Errorf("Len() after Flush = %d, want 0", s.Len())
	}
}

func TestSettleClosedGoesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Settler{Window: time.Second}
		r := startSettler(s)
		proc := &Process{PID: 42, Executable: "/bin/sh"}
		s.Add(Event{Path: "/slow", Op: Changed})
		s.Add(Event{Path: "/f", Op: Changed, Process: proc})
		time.Sleep(10 * time.Millisecond)
		s.Add(Event{Path: "/f", Op: Changed | Closed}) // no process: the last known one stays
		synctest.Wait()
		if len(r.evs()) != 1 || len(r.evs()[0]) != 1 {
			r.stop()
			t.Fatalf("batches right after /f was closed: %v, want one with /f alone", r.evs())
		}
		got := r.evs()[0][0]
		if got.Path != "/f" || !got.Op.Has(Changed|Closed) || got.Process != proc || r.at()[0] != 10*time.Millisecond {
			t.Errorf("first batch %+v at %v, want /f changed|closed with pid 42 at 10ms (no window waited)", got, r.at()[0])
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r.stop()
		if len(r.evs()) != 2 || r.evs()[1][0].Path != "/slow" || r.at()[1] < time.Second {
			t.Errorf("batches %v at %v, want /slow after its 1 s window", r.evs(), r.at())
		}
	})
}

// TestSettledTakesWhatSettledOnly: Settled hands on the paths settled by
// now (quiet for the window, or closed) and leaves the others pending.
func TestSettledTakesWhatSettledOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Settler{Window: 100 * time.Millisecond}
		s.Add(Event{Path: "/r/quiet", Op: Changed})
		time.Sleep(100 * time.Millisecond)
		s.Add(Event{Path: "/r/busy", Op: Changed})
		s.Add(Event{Path: "/r/closed", Op: Changed | Closed})
		got := s.Settled(0)
		var paths []string
		for _, ev := range got {
			paths = append(paths, ev.Path)
		}
		if want := []string{"/r/closed", "/r/quiet"}; !slices.Equal(paths, want) {
			t.Errorf("Settled() = %q, want %q", paths, want)
		}
		if n := s.Len(); n != 1 {
			t.Errorf("Len() = %d after Settled, want 1 (/r/busy)", n)
		}
	})
}

// TestSettleBatch: with Batch set, Run hands on at most Batch paths at a
// time, the ones first seen earliest first, and the rest at once after
// (not a tick later); Settled hands on no more than the room it is given.
func TestSettleBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Settler{Window: 100 * time.Millisecond, Batch: 3}
		// Seen in the order f0 … f6, each 1 ms after the one before, names
		// sorted the other way round: the batches follow the order seen.
		for i := range 7 {
			s.Add(Event{Path: "/r/" + string(rune('z'-i)), Op: Changed})
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if got := s.Settled(0); got != nil {
			t.Errorf("Settled(0) with Batch set = %v, want nothing (no room)", got)
		}
		got := s.Settled(2)
		if paths := pathsOf(got); !slices.Equal(paths, []string{"/r/y", "/r/z"}) {
			t.Errorf("Settled(2) = %q, want the two seen first, [/r/y /r/z]", paths)
		}
		r := startSettler(s)
		time.Sleep(50 * time.Millisecond) // one tick (window/4) and a little
		synctest.Wait()
		r.stop()
		var batches [][]string
		for _, b := range r.evs() {
			batches = append(batches, pathsOf(b))
		}
		want := [][]string{{"/r/v", "/r/w", "/r/x"}, {"/r/t", "/r/u"}}
		if diff := cmp.Diff(want, batches); diff != "" {
			t.Errorf("batches (-want +got):\n%s", diff)
		}
		if at := r.at(); len(at) == 2 && at[1] != at[0] {
			t.Errorf("second batch at %v, first at %v: the rest of a full batch waited for a tick", at[1], at[0])
		}
	})
}

func pathsOf(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Path)
	}
	return out
}
