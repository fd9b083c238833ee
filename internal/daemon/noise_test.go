package daemon

import (
	"fmt"
	"os"
	"path"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/fimtest"
)

// noise creates and deletes n files in h's var/tmp (2n changes), sending
// the hints inotify would, in bursts of 500 a second; during is called
// after each burst of creations with its number (nil: nothing).
func noise(t testing.TB, h *host, n int, during func(burst int)) {
	for i := 0; i < n; i += 500 {
		for j := i; j < min(i+500, n); j++ {
			rel := fmt.Sprintf("var/tmp/t%05d", j)
			if err := os.WriteFile(h.path(rel), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			h.hint(rel, "var/tmp")
		}
		if during != nil {
			during(i / 500)
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
// scaled to 20,000 creates and deletes, on a hardened host: what reaches
// the sink is bounded by the flood limits, every alert is either delivered
// or counted in an events_coalesced summary naming its directory, and the
// critical changes made during the noise (a cron job in etc/cron.d and a
// setuid program in the noisy directory itself, at every burst) each
// reach the sink as an alert of its own, never coalesced.
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
		h := hardenedHost(t, fimtest.Tree{"var/tmp/keep": fimtest.File("k"), "etc/passwd": fimtest.File("root"), "etc/cron.d/keep": fimtest.File("k")},
			func(string) string { return "" })
		h.startIdle(t, Options{})
		var critical []string
		noise(t, h, 10_000, func(burst int) {
			for _, c := range []struct {
				rel  string
				mode os.FileMode
			}{{fmt.Sprintf("etc/cron.d/job%02d", burst), 0o644}, {fmt.Sprintf("var/tmp/su%02d", burst), os.ModeSetuid | 0o755}} {
				// Created with its mode: never seen without it.
				if err := os.WriteFile(h.path(c.rel), []byte("#!/bin/sh\n"), c.mode); err != nil {
					t.Fatal(err)
				}
				h.hint(c.rel, path.Dir(c.rel))
				critical = append(critical, h.path(c.rel))
			}
		})
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
		for _, p := range critical {
			if got := find(evs, "created", p); len(got) != 1 || got[0].Event.Severity != alerts.SeverityCritical {
				t.Errorf("critical change in the noise %s: %d created alerts (%s), want one of severity %d", p, len(got), describe(got), alerts.SeverityCritical)
			}
			for _, s := range sums {
				for _, c := range s.Vigil.Coalesced.Paths {
					if c.Path == p {
						t.Errorf("critical change %s coalesced into %s", p, s.Vigil.Coalesced.Directory)
					}
				}
			}
		}
		// One window (the noise takes 20 s): the directory's limit, the
		// directory's own times once, /etc/passwd, the critical ones, and
		// etc/cron.d's own times at each job added (critical too: the cron
		// table's rows name the directory).
		if limit := defaultFloodDirLimit + 2 + len(critical) + len(critical)/2; alerts_ > limit {
			t.Errorf("%d alerts on paths delivered for 20,000 changes and %d critical ones, want at most %d", alerts_, len(critical), limit)
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
		t.Logf("20,000 changes in 40 s and %d critical: %d alerts on paths delivered (%d events in all), %d summaries counting %d", len(critical), alerts_, len(evs), len(sums), coalesced)
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
