package daemon

import (
	"time"

	"vigil/internal/watch"
)

// stages are the times one batch of settled hints went through the
// pipeline: a benchmark's breakdown of write-to-verdict latency (see
// BenchmarkBurstWriteToVerdict). Each event's First is when its path's
// first hint was seen.
type stages struct {
	events    []watch.Event
	settled   time.Time // handed on by the settler
	start     time.Time // its verification began
	checked   time.Time // the check was done
	published time.Time // its events were in the outbox
	saved     time.Time // the alerted states and standing alerts were saved (zero published: not published)
}
