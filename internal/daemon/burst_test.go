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
