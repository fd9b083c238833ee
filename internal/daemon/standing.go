package daemon

import (
	"encoding/json"
	"maps"
	"slices"

	"vigil/alerts"
)

// saveStanding records in the outbox file each alert of evs as its path's
// standing alert, and forgets the paths resolved: what a sink added by a
// reload is sent (see [pipeline.sendStanding]). A failure costs only
// that, and is logged.
func (p *pipeline) saveStanding(evs []alerts.Event) {
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
		b, err := json.Marshal(ev)
		if err != nil {
			continue // only plain fields: cannot happen
		}
		m[key] = b
	}
	if err := p.outboxDB.SaveStanding(m); err != nil {
		p.o.Log.Error().Err(err).Msg("saving the standing alerts; a sink added later may miss them")
	}
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
