package daemon

import (
	"time"

	"vigil/alerts"
	"vigil/store"
)

// outbox adapts store.Outbox to alerts.Outbox and alerts.Reserver.
type outbox struct {
	*store.Outbox
	reserve int64 // the reserve's size; 0: the default
}

// Reserve makes the outbox's reserve file.
func (o outbox) Reserve() error { return o.Outbox.Reserve(o.reserve) }

func (o outbox) Append(entries []alerts.Entry, at time.Time) error {
	out := make([]store.OutboxEntry, len(entries))
	for i, e := range entries {
		out[i] = store.OutboxEntry{Sinks: e.Sinks, Data: e.Data, Encode: e.Encode, Path: e.Path}
	}
	return o.Outbox.Append(out, at)
}

func (o outbox) Pending(sink string, max int) ([]alerts.Queued, error) {
	seqs, data, err := o.Outbox.Pending(sink, max)
	out := make([]alerts.Queued, len(seqs))
	for i := range seqs {
		out[i] = alerts.Queued{Seq: seqs[i], Data: data[i]}
	}
	return out, err
}
