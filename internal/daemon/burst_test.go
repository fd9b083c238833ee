package daemon

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"vigil/internal/watch"
	"vigil/store"
)

// TestTopUp: a batch about to be verified takes the hints settled since
// the settler took it, leaves the unsettled ones, and becomes a whole
// check when events were lost.
func TestTopUp(t *testing.T) {
	p := &pipeline{settler: &watch.Settler{Window: time.Hour}}
	p.settler.Add(watch.Event{Path: "/r/closed", Op: watch.Changed | watch.Closed})
	p.settler.Add(watch.Event{Path: "/r/settling", Op: watch.Changed})
	j := p.topUp(job{events: []watch.Event{{Path: "/r/taken", Op: watch.Changed}}})
	var paths []string
	for _, ev := range j.events {
		paths = append(paths, ev.Path)
	}
	if want := []string{"/r/taken", "/r/closed"}; j.whole || !slices.Equal(paths, want) {
		t.Errorf("topUp: whole %v, paths %q; want a batch of %q", j.whole, paths, want)
	}
	if n := p.settler.Len(); n != 1 {
		t.Errorf("%d paths left settling, want 1 (/r/settling)", n)
	}
	if j := p.topUp(job{whole: true, why: "scan"}); j.why != "scan" || len(j.events) != 0 {
		t.Errorf("topUp of a whole check changed it: %+v", j)
	}
	p.settler.Add(watch.Event{Path: lostKey, Op: watch.Lost | watch.Closed})
	if j := p.topUp(job{events: []watch.Event{{Path: "/r/x"}}}); !j.whole || j.why != "events_lost" {
		t.Errorf("topUp with lost events: %+v, want a whole check (events_lost)", j)
	}
}

// TestDeliveryOverlapsNextCheck: while the delivery stage still holds a
// batch (Options.onStages blocks it after its save), the verifier checks
// the next batch; that batch is published only after the stage moves on,
// and every batch's alerted states and standing alerts are in the outbox
// file once the daemon stops.
func TestDeliveryOverlapsNextCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		held, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		h.startIdle(t, Options{onStages: func(*stages) {
			once.Do(func() { close(held); <-release })
		}})
		h.write(t, rels[0], "changed")
		h.settle(time.Second)
		select {
		case <-held:
		default:
			t.Fatal("the first batch did not reach the end of the delivery stage")
		}
		if n := len(find(h.sink.events(), "updated", h.path(rels[0]))); n != 1 {
			t.Fatalf("%d updated events for %s before the stage is released, want 1 (published before saved)", n, rels[0])
		}
		checked := h.stats.verifications.Load()
		h.write(t, rels[1], "changed")
		h.settle(time.Second)
		if n := h.stats.verifications.Load(); n != checked+1 {
			t.Errorf("%d verifications while the stage holds the first batch, want %d: the next batch waits for its delivery", n, checked+1)
		}
		if n := len(find(h.sink.events(), "updated", h.path(rels[1]))); n != 0 {
			t.Errorf("%s published while the stage holds the batch before it", rels[1])
		}
		close(release)
		h.settle(time.Second)
		if n := len(find(h.sink.events(), "updated", h.path(rels[1]))); n != 1 {
			t.Errorf("%d updated events for %s after the stage is released, want 1", n, rels[1])
		}
		h.stop(t)
		ob, err := store.OpenOutbox(h.cfg.OutboxPath(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		states, err := ob.Alerts()
		if err != nil {
			t.Fatal(err)
		}
		standing, err := ob.Standing()
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range rels[:2] {
			if p := h.path(rel); states[p].State == "" || standing[p] == nil {
				t.Errorf("%s: saved state %q, standing alert %q after the stop; want both", p, states[p].State, standing[p])
			}
		}
	})
}

// TestHintBatches: settled hints go to the verifier at most hintBatch at
// a time (the rest in the batches right after), and every change is
// still alerted, once.
func TestHintBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		var mu sync.Mutex
		var sizes []int
		h.startIdle(t, Options{hintBatch: 4, onStages: func(s *stages) {
			mu.Lock()
			sizes = append(sizes, len(s.events))
			mu.Unlock()
		}})
		for _, rel := range rels {
			h.write(t, rel, "changed")
		}
		h.settle(time.Second)
		for _, rel := range rels {
			if n := len(find(h.sink.events(), "updated", h.path(rel))); n != 1 {
				t.Errorf("%d updated events for %s, want 1", n, rel)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		sum := 0
		for _, n := range sizes {
			sum += n
			if n > 4 {
				t.Errorf("a batch of %d hints, want at most 4 (batches %v)", n, sizes)
			}
		}
		if sum != len(rels) {
			t.Errorf("batches %v hold %d hints, want %d", sizes, sum, len(rels))
		}
		h.stop(t)
	})
}

// TestTopUpRoom: with a bound on a batch, the top-up takes only what the
// batch has room for, first seen first.
func TestTopUpRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &pipeline{settler: &watch.Settler{Window: time.Hour, Batch: 3}}
		for _, name := range []string{"/r/c", "/r/b", "/r/a"} {
			p.settler.Add(watch.Event{Path: name, Op: watch.Changed | watch.Closed})
			time.Sleep(time.Millisecond)
		}
		j := p.topUp(job{events: []watch.Event{{Path: "/r/x"}, {Path: "/r/y"}}})
		if len(j.events) != 3 || j.events[2].Path != "/r/c" {
			t.Errorf("topUp = %v, want /r/x, /r/y and the first seen, /r/c", j.events)
		}
		if n := p.settler.Len(); n != 2 {
			t.Errorf("%d paths left, want 2", n)
		}
	})
}
