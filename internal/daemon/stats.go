package daemon

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sync/atomic"
	"time"
)

// stats are the daemon's counters, for /status and /metrics.
type stats struct {
	hints, lost, alerts, delivered, failures atomic.Int64
	verifications                            atomic.Int64
	remediations, remediationFailures        atomic.Int64
	outboxFull                               atomic.Int64  // times the outbox could not be written
	sequence                                 atomic.Uint64 // highest event.sequence queued
	latency                                  prometheus.Histogram
	sinks                                    sinkHealth
	// batchEntries counts the entries the verifications of settled hints
	// visited: about one per hinted path when each is checked as itself.
	batchEntries atomic.Int64

	mu            sync.Mutex
	lastScan      time.Time
	lastScanWhy   string
	lastScanTook  time.Duration
	lastBatchTook time.Duration
	ready         bool
	baselineID    uint64
	baselineRoot  string
	alerted       int
	lastError     string
}

// setBaseline records what the last verification compared against.
func (s *stats) setBaseline(id uint64, root string, alerted int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baselineID, s.baselineRoot, s.alerted = id, root, alerted
	s.lastError = ""
	if err != nil {
		s.lastError = err.Error()
	}
}

func (s *stats) verified(j job, paths int, took time.Duration) {
	s.verifications.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.whole {
		s.lastScan, s.lastScanWhy, s.lastScanTook = time.Now(), j.why, took
	} else {
		s.lastBatchTook = took
		if j.stats != nil {
			s.batchEntries.Add(j.stats.Entries.Load())
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
