package daemon

import (
	"vigil/alerts"
	"vigil/store"
)

// outbox adapts store.Outbox to alerts.Outbox.
type outbox struct{ *store.Outbox }

func (o outbox) Pending(sink string, max int) ([]alerts.Queued, error) {
	seqs, data, err := o.Outbox.Pending(sink, max)
	out := make([]alerts.Queued, len(seqs))
	for i := range seqs {
		out[i] = alerts.Queued{Seq: seqs[i], Data: data[i]}
	}
	return out, err
}
