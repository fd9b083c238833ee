package daemon

import (
	"slices"
	"sync"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/merkle"
)

// stageLog records the stages of every batch of hints (Options.onStages).
type stageLog struct {
	mu      sync.Mutex
	batches []*stages
	byPath  map[string]stageOf
}

// stageOf is one path's batch and the time its first hint was seen.
type stageOf struct {
	b     *stages
	first time.Time
}

func (l *stageLog) add(s *stages) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.published.IsZero() {
		return
	}
	if l.byPath == nil {
		l.byPath = map[string]stageOf{}
	}
	l.batches = append(l.batches, s)
	for _, ev := range s.events {
		if _, ok := l.byPath[ev.Path]; !ok {
			l.byPath[ev.Path] = stageOf{s, ev.First}
		}
	}
}

// report reports where the time of the slowest 1 % of created went, and
// the batches' longest stages.
func (l *stageLog) report(b *testing.B, created []alerts.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	type file struct {
		lat   time.Duration
		ctime time.Time
		st    stageOf
	}
	var files []file
	for _, ev := range created {
		st, ok := l.byPath[ev.File.Path]
		if !ok { // verified as part of its directory's hint
			st, ok = l.byPath[merkle.Parent(ev.File.Path)]
		}
		if ok {
			files = append(files, file{ev.Timestamp.Sub(ev.File.Ctime), ev.File.Ctime, st})
		}
	}
	if len(files) == 0 {
		return
	}
	// Write to the outbox (to the sinks' queue), of every file staged.
	var pub []time.Duration
	for _, f := range files {
		pub = append(pub, f.st.b.published.Sub(f.ctime))
	}
	slices.Sort(pub)
	b.ReportMetric(ms(pub[len(pub)/2]), "p50-published-ms")
	b.ReportMetric(ms(pub[len(pub)*99/100]), "p99-published-ms")
	// How long the writer took to create the files: a latency longer than
	// this is the daemon falling behind.
	first, last := files[0].ctime, files[0].ctime
	for _, f := range files {
		if f.ctime.Before(first) {
			first = f.ctime
		}
		if f.ctime.After(last) {
			last = f.ctime
		}
	}
	b.ReportMetric(ms(last.Sub(first)), "burst-ms")
	slices.SortFunc(files, func(a, c file) int { return int(a.lat - c.lat) })
	slow := files[len(files)*99/100:]
	var hint, settle, queue time.Duration
	for _, f := range slow {
		// A hint first seen after its batch was taken was added at the
		// batch's start (topUp): queued from its first hint on.
		settled := f.st.b.settled
		if settled.Before(f.st.first) {
			settled = f.st.first
		}
		hint += f.st.first.Sub(f.ctime)
		settle += settled.Sub(f.st.first)
		queue += f.st.b.start.Sub(settled)
	}
	n := time.Duration(len(slow))
	b.ReportMetric(ms(hint/n), "hint-ms")
	b.ReportMetric(ms(settle/n), "settle-ms")
	b.ReportMetric(ms(queue/n), "queue-ms")
	var check, publish, save, cycle time.Duration
	for i, s := range l.batches {
		b.Logf("batch %d at %v: %d hints, waited %v, check %v, publish %v, save %v", i, s.start.Sub(first).Round(time.Millisecond), len(s.events),
			s.start.Sub(s.settled).Round(time.Millisecond), s.checked.Sub(s.start).Round(time.Millisecond),
			s.published.Sub(s.checked).Round(time.Millisecond), s.saved.Sub(s.published).Round(time.Millisecond))
		check = max(check, s.checked.Sub(s.start))
		publish = max(publish, s.published.Sub(s.checked))
		save = max(save, s.saved.Sub(s.published))
		if i > 0 {
			cycle = max(cycle, s.start.Sub(l.batches[i-1].start))
		}
	}
	b.ReportMetric(ms(check), "max-check-ms")
	b.ReportMetric(ms(publish), "max-publish-ms")
	b.ReportMetric(ms(save), "max-save-ms")
	b.ReportMetric(ms(cycle), "max-cycle-ms")
	b.ReportMetric(float64(len(l.batches)), "batches")
	b.ReportMetric(float64(len(files))/float64(len(created)), "staged")
}
