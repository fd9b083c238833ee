package daemon

import "vigil/internal/watch"

// topUp adds to j, a batch of settled hints the verifier is about to
// start, the hints that settled since the settler took j. The settler
// takes a batch as soon as the previous one is handed on and then waits
// for the verifier: without the top-up, a hint that settles while a batch
// runs waits for that batch and the next one (two batches' time during a
// burst), with it for that batch only. Lost events make it a whole check,
// as in settled.
func (p *pipeline) topUp(j job) job {
	if j.whole {
		return j
	}
	more := p.settler.Settled()
	for _, ev := range more {
		if ev.Op.Has(watch.Lost) {
			return job{whole: true, why: "events_lost"}
		}
	}
	j.events = append(j.events, more...)
	return j
}
