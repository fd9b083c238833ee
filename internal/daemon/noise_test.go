package daemon

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/fimtest"
)

// noise creates and deletes n files in h's var/tmp (2n changes), sending
// the hints inotify would, in bursts of 500 a second.
func noise(t testing.TB, h *host, n int) {
	for i := 0; i < n; i += 500 {
		for j := i; j < min(i+500, n); j++ {
			rel := fmt.Sprintf("var/tmp/t%05d", j)
			if err := os.WriteFile(h.path(rel), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			h.hint(rel, "var/tmp")
		}
		time.Sleep(time.Second)
		for j := i; j < min(i+500, n); j++ {
			rel := fmt.Sprintf("var/tmp/t%05d", j)
			if err := os.Remove(h.path(rel)); err != nil {
				t.Fatal(err)
			}
			h.hint(rel, "var/tmp")
		}
		time.Sleep(time.Second)
	}
}

// TestFloodNoise: the 100,000 changes a minute in one directory,
// scaled to 20,000 creates and deletes: what reaches the sink is bounded
// by the flood limits, and every alert is either delivered or counted in
// an events_coalesced summary naming its directory.
func TestFloodNoise(t *testing.T) {
	fimtest.Long(t, "20,000 files created and deleted")
	var ru0, ru1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
			t.Fatal(err)
		}
		t.Logf("CPU (user+system) for the run: %.2f s", rusageSeconds(ru1)-rusageSeconds(ru0))
	}()
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"var/tmp/keep": fimtest.File("k"), "etc/passwd": fimtest.File("root")}, "")
		h.startIdle(t, Options{})
		noise(t, h, 10_000)
		h.write(t, "etc/passwd", "root\nevil")
		h.settle(2 * time.Minute) // past the window: its summaries are out
		evs := h.sink.events()
		var alerts_, coalesced int
		var sums []alerts.Event
		for _, ev := range evs {
			switch {
			case ev.Event.Action == "events_coalesced":
				sums = append(sums, ev)
				coalesced += ev.Vigil.Coalesced.Count
			case ev.File != nil && ev.File.Path != "":
				alerts_++
			}
		}
		// One window (the noise takes 20 s): the directory's limit, the
		// directory's own times once, /etc/passwd.
		if alerts_ > defaultFloodDirLimit+2 {
			t.Errorf("%d alerts on paths delivered for 20,000 changes, want at most %d", alerts_, defaultFloodDirLimit+2)
		}
		if len(find(evs, "updated", h.path("etc/passwd"))) != 1 {
			t.Errorf("the change of /etc/passwd in the noise: not delivered; events:\n%s", describe(evs[len(evs)-5:]))
		}
		if len(sums) == 0 || sums[0].Vigil.Coalesced.Directory != h.path("var/tmp") || len(sums[0].Vigil.Coalesced.Paths) != coalescedPaths {
			t.Fatalf("summaries %d (first %+v), want one for %s naming %d paths", len(sums), sums[0].Vigil.Coalesced, h.path("var/tmp"), coalescedPaths)
		}
		if total := h.stats.alerts.Load(); coalesced < 10_000 {
			t.Errorf("summaries count %d alerts (%d events published), want at least 10,000 of the 20,000 changes", coalesced, total)
		}
		t.Logf("20,000 changes in 40 s: %d alerts on paths delivered (%d events in all), %d summaries counting %d", alerts_, len(evs), len(sums), coalesced)
	})
}

func rusageSeconds(r syscall.Rusage) float64 {
	return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
}

// BenchmarkFloodFilter is the flood limiter's cost per alert in a flood
// (one directory, each path created and deleted).
func BenchmarkFloodFilter(b *testing.B) {
	f := newFlood(&config.Config{}, nil, "test")
	f.ruleLimit = func(string) int { return 0 }
	evs := make([]alerts.Event, 0, 2000)
	for i := range 1000 {
		p := fmt.Sprintf("/r/tmp/t%05d", i)
		evs = append(evs, fileEvent("created", p, "file", alerts.SeverityAlert), fileEvent("deleted", p, "file", alerts.SeverityAlert))
	}
	b.ReportAllocs()
	now := time.Unix(1000, 0)
	for b.Loop() {
		f.filter(evs, now)
		now = now.Add(time.Second)
		f.flush(now, false)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/alert")
}
