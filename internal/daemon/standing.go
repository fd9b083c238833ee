package daemon

import (
	"encoding/json"
	"maps"
	"slices"

	"vigil/alerts"
)

// standingOf returns, by path, the standing alert each event of evs
// records (its JSON), nil for the paths resolved: the delivery stage
// (burst.go) saves them in the outbox file after evs are published, what
// a sink added by a reload is sent (see [pipeline.sendStanding]). An
// event whose JSON was queued in the outbox (encoded, by event.id) is
// saved as queued, not encoded again.
func standingOf(evs []alerts.Event, encoded map[string][]byte) map[string][]byte {
	m := map[string][]byte{}
	for i := range evs {
		ev := &evs[i]
		if ev.File == nil || ev.File.Path == "" {
			continue
		}
		paths := eventPaths(ev)
		key := paths[len(paths)-1]
		if ev.Event.Action == "resolved" {
			m[key] = nil
			continue
		}
		if b, ok := encoded[ev.Event.ID]; ok && ev.Event.ID != "" {
			m[key] = b // as queued: the same event (a sink added later is sent it with a sequence of its own)
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			continue // only plain fields: cannot happen
		}
		m[key] = b
	}
	return m
}

// sendStanding sends the sinks new in this run (added by the reload that
// started it) the alerts still standing, once: the ones whose state the
// verifier still holds for their path.
func (p *pipeline) sendStanding(added []string) error {
	if len(added) == 0 {
		return nil
	}
	saved, err := p.outboxDB.Standing()
	if err != nil {
		return err
	}
	var evs []alerts.Event
	for _, path := range slices.Sorted(maps.Keys(saved)) {
		var ev alerts.Event
		if json.Unmarshal(saved[path], &ev) != nil || ev.File == nil {
			continue
		}
		if p.v.standing(path, ev.State()) {
			evs = append(evs, ev)
		}
	}
	p.o.Log.Info().Strs("sinks", added).Int("alerts", len(evs)).Msg("sending the standing alerts to the sinks added")
	if len(evs) == 0 {
		return nil
	}
	p.st.alerts.Add(int64(len(evs)))
	return p.disp.PublishTo(added, evs...)
}
