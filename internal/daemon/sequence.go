package daemon

import (
	"time"

	"vigil/alerts"
)

// queued records the highest event.sequence the outbox queued (for
// /status, /metrics and the fleet heartbeat: Options.QueuedSequence).
func (p *pipeline) queued(seq uint64) {
	p.st.sequence.Store(seq)
	if p.o.QueuedSequence != nil {
		p.o.QueuedSequence.Store(seq)
	}
}

// reportGaps publishes an events_missing alert for each run of events
// deleted from a sink's queue while the daemon was stopped, once: the
// outbox is told they were reported after the alerts are queued (a crash
// in between reports them again, never loses them).
func (p *pipeline) reportGaps() error {
	gaps, err := p.outboxDB.Gaps()
	if err != nil || len(gaps) == 0 {
		return err
	}
	now := time.Now()
	evs := make([]alerts.Event, len(gaps))
	for i, g := range gaps {
		p.o.Log.Error().Str("sink", g.Sink).Uint64("count", g.Count()).
			Uint64("after_sequence", g.After).Uint64("before_sequence", g.Before).
			Msg("events queued for a sink are gone from the outbox file")
		evs[i] = alerts.Missing(alerts.MissingInfo{
			Sink: g.Sink, Count: g.Count(), FirstSequence: g.After + 1, LastSequence: g.Before - 1,
		}, p.o.Host, now)
	}
	p.st.alerts.Add(int64(len(evs)))
	if err := p.disp.Publish(evs...); err != nil {
		return err
	}
	return p.outboxDB.AckGaps(gaps)
}
