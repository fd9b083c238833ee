package daemon

import (
	"slices"
	"testing"
	"time"

	"vigil/internal/watch"
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
