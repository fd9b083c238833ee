package daemon

import (
	"context"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/store"
)

// posturePrefix starts the keys of posture findings in the verifier's
// alerted map: file paths start with '/', so the two never meet.
const posturePrefix = "posture:"

// postureInterval is how often the posture is compared on its own
// (posture.interval).
func postureInterval(c *config.Config) time.Duration {
	if c.Posture.Interval > 0 {
		return c.Posture.Interval
	}
	return config.DefaultPostureInterval
}

// posture adds an event for each posture change res found.
func (c *collect) posture(res engine.Result) {
	for _, ch := range res.Posture {
		ev := alerts.Posture(alerts.PostureChange{Key: ch.Key, Action: string(ch.Action), Old: ch.Old, New: ch.New},
			ch.Severity, c.v.host, c.now)
		if ev.Vigil != nil {
			ev.Vigil.Phase = c.phase
		}
		c.add(posturePrefix+ch.Key, ev)
	}
}

// postureOnly runs the posture job: the posture compared through the
// engine (after the trust decision run took), its changes published, the
// posture findings no longer found resolved.
func (v *verifier) postureOnly(ctx context.Context, db *store.DB, info store.Info, phase string, start time.Time) ([]alerts.Event, error) {
	res, err := v.eng.CheckPosture(ctx, db, engine.Request{Phase: phase})
	if err != nil {
		return nil, err
	}
	c := &collect{v: v, scope: scopeOf(info), seen: map[string]bool{}, now: start, phase: phase}
	if res.Tampered != nil {
		c.add("", alerts.Tampered(res.Tampered, v.host, start))
	}
	c.posture(res)
	c.resolveGone(posturePrefix)
	return c.out, nil
}

// resolveGone resolves every standing finding whose key starts with prefix
// that this check did not find again (the posture's and the Nix store's
// findings, each compared by a check of its own).
func (c *collect) resolveGone(prefix string) {
	v := c.v
	var gone []string
	for p := range v.alerted {
		if strings.HasPrefix(p, prefix) && !c.seen[p] {
			gone = append(gone, p)
		}
	}
	for _, p := range gone {
		ev := alerts.Resolved(p, v.host, c.now)
		ev.SetID(c.scope + ":resolved:" + itoa(v.resolved[p]) + ":" + v.alerted[p])
		v.setAlerted(p, "")
		v.dirty[p] = true
		v.resolved[p]++
		c.out = append(c.out, ev)
	}
}
