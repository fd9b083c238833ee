package daemon

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Thresholds of /healthz: a sink failing for longer, or one verification
// running for longer, makes the daemon degraded.
const (
	sinkFailingAfter  = 2 * time.Minute
	verifyStalledFrom = 10 * time.Minute
)

// sinkHealth is what the daemon knows of each sink's deliveries, for
// /healthz and the per-sink metrics. It outlives a reload (stats do).
type sinkHealth struct {
	mu           sync.Mutex
	failingSince map[string]time.Time // first failure since the last success
	summarized   map[string]int64     // events_dropped summaries' counts
	verifying    time.Time            // start of the running verification, zero if none
}

func (s *sinkHealth) failed(sink string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failingSince == nil {
		s.failingSince = map[string]time.Time{}
	}
	if _, ok := s.failingSince[sink]; !ok {
		s.failingSince[sink] = now
	}
}

func (s *sinkHealth) delivered(sink string) {
	s.mu.Lock()
	delete(s.failingSince, sink)
	s.mu.Unlock()
}

func (s *sinkHealth) dropped(sink string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summarized == nil {
		s.summarized = map[string]int64{}
	}
	s.summarized[sink] += n
}

// verifyStarted and verifyDone bracket one verification.
func (s *sinkHealth) verifyStarted(now time.Time) { s.mu.Lock(); s.verifying = now; s.mu.Unlock() }
func (s *sinkHealth) verifyDone()                 { s.mu.Lock(); s.verifying = time.Time{}; s.mu.Unlock() }

// degraded returns why the daemon is degraded, empty if it is not:
// partial coverage, a sink failing for long, a stalled verification, an
// outbox that cannot grow.
func (p *pipeline) degraded(now time.Time) []string {
	var why []string
	if cov := p.src.Coverage(); len(cov.Fallback) > 0 {
		why = append(why, fmt.Sprintf("coverage partial: %d subtrees without watches, scanned periodically", len(cov.Fallback)))
	}
	failAfter, stallAfter := sinkFailingAfter, verifyStalledFrom
	if p.o.healthAfter > 0 {
		failAfter, stallAfter = p.o.healthAfter, p.o.healthAfter
	}
	h := &p.st.sinks
	h.mu.Lock()
	for sink, since := range h.failingSince {
		if d := now.Sub(since); d >= failAfter {
			why = append(why, fmt.Sprintf("sink %s failing for %s", sink, d.Round(time.Second)))
		}
	}
	if !h.verifying.IsZero() && now.Sub(h.verifying) >= stallAfter {
		why = append(why, fmt.Sprintf("verification stalled: running for %s", now.Sub(h.verifying).Round(time.Second)))
	}
	h.mu.Unlock()
	if oh := p.disp.Health(); oh.Degraded {
		why = append(why, oh.Reason)
	}
	return why
}

// sinkCollector is the per-sink metrics: queue depth, age of the oldest
// undelivered event, events dropped.
type sinkCollector struct{ p *pipeline }

var (
	sinkDepthDesc  = prometheus.NewDesc("vigil_watch_sink_queue_depth", "Events waiting in the outbox for the sink.", []string{"sink"}, nil)
	sinkOldestDesc = prometheus.NewDesc("vigil_watch_sink_oldest_undelivered_seconds", "Age of the oldest event waiting for the sink (0: none).", []string{"sink"}, nil)
	sinkDropDesc   = prometheus.NewDesc("vigil_watch_sink_dropped_total", "Events the sink's full queue (watch.outbox_max) turned away.", []string{"sink"}, nil)
	sinkFailDesc   = prometheus.NewDesc("vigil_watch_sink_failing_seconds", "How long the sink has been failing (0: it is not).", []string{"sink"}, nil)
)

func (c sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sinkDepthDesc
	ch <- sinkOldestDesc
	ch <- sinkDropDesc
	ch <- sinkFailDesc
}

func (c sinkCollector) Collect(ch chan<- prometheus.Metric) {
	p, now := c.p, time.Now()
	h := &p.st.sinks
	for _, r := range p.disp.Routes {
		depth, err := p.outboxDB.Depth(r.Name)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(sinkDepthDesc, prometheus.GaugeValue, float64(depth), r.Name)
		ch <- prometheus.MustNewConstMetric(sinkOldestDesc, prometheus.GaugeValue, p.oldest(r.Name, now).Seconds(), r.Name)
		n, _, _, err := p.outboxDB.Dropped(r.Name)
		if err != nil {
			continue
		}
		h.mu.Lock()
		n += h.summarized[r.Name]
		var failing time.Duration
		if since, ok := h.failingSince[r.Name]; ok {
			failing = now.Sub(since)
		}
		h.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(sinkDropDesc, prometheus.CounterValue, float64(n), r.Name)
		ch <- prometheus.MustNewConstMetric(sinkFailDesc, prometheus.GaugeValue, failing.Seconds(), r.Name)
	}
}

// oldest returns the age of sink's oldest queued event, 0 if none.
func (p *pipeline) oldest(sink string, now time.Time) time.Duration {
	_, data, err := p.outboxDB.Pending(sink, 1)
	if err != nil || len(data) == 0 {
		return 0
	}
	var ev struct {
		Timestamp time.Time `json:"@timestamp"`
	}
	if json.Unmarshal(data[0], &ev) != nil || ev.Timestamp.IsZero() {
		return 0
	}
	return max(now.Sub(ev.Timestamp), 0)
}

func joinReasons(why []string) string { return strings.Join(why, "; ") }
