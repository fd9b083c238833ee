package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vigil/internal/watch"
)

// newStats returns the counters with the latency histogram.
func newStats() *stats {
	return &stats{latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigil_watch_verdict_latency_seconds",
		Help:    "From a path's first event to its verdict (settling and verification).",
		Buckets: []float64{.05, .1, .15, .2, .25, .3, .5, 1, 2, 3, 5, 10},
	})}
}

// registry returns the Prometheus metrics of p.
func (p *pipeline) registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	st := p.st
	counter := func(name, help string, v func() int64) {
		r.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) }))
	}
	gauge := func(name, help string, v func() float64) {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v))
	}
	counter("vigil_watch_hints_total", "Events from the intake (hints to verify).", st.hints.Load)
	counter("vigil_watch_overflows_total", "Times events were lost (inotify overflow, watcher errors).", st.lost.Load)
	counter("vigil_watch_events_total", "Events written to the outbox (alerts, resolved, notices).", st.alerts.Load)
	counter("vigil_watch_delivered_total", "Events a sink accepted.", st.delivered.Load)
	counter("vigil_watch_delivery_failures_total", "Failed deliveries (retried).", st.failures.Load)
	counter("vigil_watch_remediations_total", "Remediations that succeeded.", st.remediations.Load)
	counter("vigil_watch_remediation_failures_total", "Remediations that failed (the alert stands).", st.remediationFailures.Load)
	counter("vigil_watch_verifications_total", "Verifications run (batches and whole checks).", st.verifications.Load)
	counter("vigil_watch_batch_entries_total", "Entries visited by the verifications of settled hints (about one per hinted path).", st.batchEntries.Load)
	gauge("vigil_watch_settling", "Paths waiting to settle.", func() float64 { return float64(p.settler.Len()) })
	gauge("vigil_watch_alerted_paths", "Paths that differ from the baseline (alerted, not resolved).", func() float64 {
		return float64(st.snapshot().Alerted)
	})
	gauge("vigil_watch_outbox_depth", "Events waiting in the outbox, all sinks.", func() float64 { return float64(p.outboxDepth()) })
	gauge("vigil_watch_watched_directories", "Directories with an inotify watch.", func() float64 { return float64(p.src.Coverage().Watched) })
	gauge("vigil_watch_fallback_subtrees", "Subtrees scanned periodically for lack of watches.", func() float64 {
		return float64(len(p.src.Coverage().Fallback))
	})
	gauge("vigil_watch_event_sequence", "Highest event.sequence queued in the outbox.", func() float64 { return float64(st.sequence.Load()) })
	counter("vigil_watch_coalesced_total", "Alerts over the flood limits, counted into events_coalesced summaries.", p.flood.total.Load)
	counter("vigil_watch_outbox_full_total", "Times the outbox could not be written (its filesystem full).", st.outboxFull.Load)
	gauge("vigil_watch_outbox_degraded", "1 while the outbox's reserve is in use or the outbox cannot be written.", func() float64 {
		if p.disp.Health().Degraded {
			return 1
		}
		return 0
	})
	gauge("vigil_watch_outbox_held", "Events held in memory while the outbox cannot be written.", func() float64 { return float64(p.disp.Health().Held) })
	counter("vigil_watch_outbox_lost_total", "Events lost while the outbox could not be written (beyond the memory bound, or a direct sink refusing).", func() int64 {
		return p.disp.Health().Lost
	})
	gauge("vigil_watch_last_scan_seconds", "Duration of the last whole check.", func() float64 { return st.snapshot().LastScanTook.Seconds() })
	r.MustRegister(st.latency, sinkCollector{p})
	return r
}

func (p *pipeline) outboxDepth() int {
	n := 0
	for _, r := range p.disp.Routes {
		d, err := p.outboxDB.Depth(r.Name)
		if err == nil {
			n += d
		}
	}
	return n
}

// Status is what /status serves.
type Status struct {
	Ready        bool           `json:"ready"`
	BaselineID   uint64         `json:"baseline_id"`
	BaselineRoot string         `json:"baseline_root"`
	LastScan     time.Time      `json:"last_scan,omitzero"`
	LastScanWhy  string         `json:"last_scan_reason,omitempty"`
	LastScanTook time.Duration  `json:"last_scan_ns"`
	Alerted      int            `json:"alerted_paths"`
	Settling     int            `json:"settling"`
	Outbox       map[string]int `json:"outbox"`
	Coverage     watch.Coverage `json:"coverage"`
	Hints        int64          `json:"hints"`
	Overflows    int64          `json:"overflows"`
	LastError    string         `json:"last_error,omitempty"`
	// Sequence is the highest event.sequence queued.
	Sequence uint64 `json:"sequence"`
	// Large is the large-file worker's progress record (large.go).
	Large *LargeStatus `json:"large,omitempty"`
}

func (s *stats) snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{
		Ready: s.ready, BaselineID: s.baselineID, BaselineRoot: s.baselineRoot,
		LastScan: s.lastScan, LastScanWhy: s.lastScanWhy, LastScanTook: s.lastScanTook,
		Alerted: s.alerted, LastError: s.lastError,
		Hints: s.hints.Load(), Overflows: s.lost.Load(), Sequence: s.sequence.Load(),
	}
}

func (p *pipeline) statusJSON() Status {
	s := p.st.snapshot()
	s.Settling = p.settler.Len()
	s.Coverage = p.src.Coverage()
	s.Large = p.large.record()
	s.Outbox = map[string]int{}
	for _, r := range p.disp.Routes {
		if d, err := p.outboxDB.Depth(r.Name); err == nil {
			s.Outbox[r.Name] = d
		}
	}
	return s
}

// serve runs the HTTP listener until ctx is done.
func (p *pipeline) serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		s := p.st.snapshot()
		if !s.Ready || s.LastError != "" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if why := p.degraded(time.Now()); len(why) > 0 {
			http.Error(w, "degraded: "+joinReasons(why), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n")) // a client gone: nothing to tell it
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.statusJSON()) // likewise
	})
	// The web console, on a loopback listener only (see consoleHandler).
	switch c, err := p.consoleHandler(ln.Addr().String()); {
	case err != nil:
		return err
	case c != nil:
		for _, pat := range []string{"GET /{$}", "GET /host/", "GET /static/", "GET /api/v1/phase"} {
			mux.Handle(pat, c)
		}
	default:
		p.o.Log.Warn().Str("address", ln.Addr().String()).Msg("the web console is served on loopback addresses only: not here")
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
