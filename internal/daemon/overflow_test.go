package daemon

import (
	"fmt"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"vigil/internal/fimtest"
	"vigil/internal/watch"
)

// TestOverflowCatchUpReportsEveryChange: a burst that overflows the
// kernel's queue again and again (the source says Lost, and hints for a
// few of the files only) is caught up by one whole check once it calms
// down, which reports every file created.
func TestOverflowCatchUpReportsEveryChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		h := newHost(t, fimtest.Tree{"var/keep": fimtest.File("")}, "")
		h.startIdle(t, Options{})
		for i := range n {
			rel := fmt.Sprintf("var/f%04d", i)
			if i < 10 {
				h.write(t, rel, "x") // hinted
				continue
			}
			if err := os.WriteFile(h.path(rel), []byte("x"), 0o644); err != nil { // its hint lost
				t.Fatal(err)
			}
			if i%50 == 0 {
				h.src.send(watch.Event{Op: watch.Lost, Err: watch.ErrOverflow})
			}
		}
		h.settle(5 * time.Second)
		evs := h.sink.events()
		for i := range n {
			p := h.path(fmt.Sprintf("var/f%04d", i))
			if got := find(evs, "created", p); len(got) != 1 || *got[0].File.Size != 1 {
				t.Errorf("%s: created events %s want one, with size 1", p, describe(got))
			}
		}
		if got := count(evs, "events_lost"); got != 1 {
			t.Errorf("%d events_lost catch-ups after one burst, want 1", got)
		}
		if got := h.stats.lost.Load(); got != 3 {
			t.Errorf("overflows counted %d, want 3", got)
		}
	})
}
