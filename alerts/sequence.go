package alerts

import "time"

// MissingInfo describes events queued for a sink and gone from its queue
// before it accepted them (vigil.missing of events_missing): someone
// deleted them from the outbox file.
type MissingInfo struct {
	Sink  string `json:"sink"`
	Count uint64 `json:"count"`
	// FirstSequence and LastSequence bound the event.sequence numbers of
	// the missing events (inclusive). Not every number between them need
	// be missing: a sink's filter passes only some events.
	FirstSequence uint64 `json:"first_sequence"`
	LastSequence  uint64 `json:"last_sequence"`
}

// Missing returns the critical events_missing alert for m.
func Missing(m MissingInfo, host string, now time.Time) Event {
	ev := newEvent("alert", "events_missing", []string{"info"}, host, now)
	ev.Event.Category = []string{"file", "process"}
	ev.Event.Severity = SeverityCritical
	ev.setVigil(&Vigil{Missing: &m})
	return ev
}
