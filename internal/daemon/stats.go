package daemon

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the daemon's counters, for /status and /metrics.
type stats struct {
	hints, lost, alerts, delivered, failures atomic.Int64
	verifications                            atomic.Int64

	mu            sync.Mutex
	lastScan      time.Time
	lastScanWhy   string
	lastScanTook  time.Duration
	lastBatchTook time.Duration
	ready         bool
}

func (s *stats) verified(j job, paths int, took time.Duration) {
	s.verifications.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.whole {
		s.lastScan, s.lastScanWhy, s.lastScanTook = time.Now(), j.why, took
	} else {
		s.lastBatchTook = took
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
