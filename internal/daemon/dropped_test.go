package daemon

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestFullOutboxSummaryNamesPaths: the events_dropped summary of a full
// queue (outbox_max 5, 20 alerts) names the 15 paths it turned away, and
// the metric counts them once the summary is delivered.
func TestFullOutboxSummaryNamesPaths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		h.cfg.Watch.OutboxMax = 5
		h.startIdle(t, Options{})
		h.sink.setDown(true)
		for _, rel := range rels {
			h.write(t, rel, "changed")
		}
		h.settle(time.Second)
		h.sink.setDown(false)
		h.settle(2 * time.Minute)
		evs := h.sink.events()
		var delivered, named []string
		for _, ev := range evs {
			switch ev.Event.Action {
			case "updated":
				delivered = append(delivered, ev.File.Path)
			case "events_dropped":
				named = append(named, ev.Vigil.Dropped.Paths...)
			}
		}
		var want []string
		for _, rel := range rels {
			if p := h.path(rel); !slices.Contains(delivered, p) {
				want = append(want, p)
			}
		}
		slices.Sort(named)
		if len(delivered) != 5 || !slices.Equal(named, want) {
			t.Errorf("delivered %d updated, the summary names %v; want 5, and the other 15 named: %v", len(delivered), named, want)
		}
		if n := h.stats.sinks.summarized["0-stdout"]; n != 15 {
			t.Errorf("dropped counted for the metric: %d, want 15", n)
		}
	})
}
