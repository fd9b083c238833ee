package daemon

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
)

// Restorer puts a path back in its sealed state: the "restore"
// remediation. The Btrfs restore (engine.Restore, issue 9) is meant to
// implement it: the path restored from a trusted read-only snapshot once
// its content there is verified against the sealed baseline. Restore is
// called from one goroutine at a time.
type Restorer interface {
	Restore(ctx context.Context, path string) (RestoreResult, error)
}

// RestoreResult is what a [Restorer] did.
type RestoreResult struct {
	// Source is where the content came from (the snapshot).
	Source string
	// Hash is the hex BLAKE3-256 of what was put back; "" for a path
	// removed (one the baseline does not have).
	Hash string
}

// CheckRemediation refuses a configuration asking for a remediation the
// daemon cannot do: "restore" without a [Restorer]. Its problems match
// config.ErrInvalid.
func CheckRemediation(c *config.Config, r Restorer) error {
	var errs []error
	for i, rule := range c.Rules {
		if rule.Remediation.Policy == config.RemediateRestore && r == nil {
			errs = append(errs, &config.Problem{File: c.Source, Key: fmt.Sprintf("rule[%d].remediation", i),
				Msg: `"restore" needs the Btrfs restore, which this vigil does not have (yet); use "alert" or "exec"`})
		}
	}
	return errors.Join(errs...)
}

// remediationRoute is the dispatcher's route of the remediation stage; no
// sink's route name starts with a letter.
const remediationRoute = "remediation"

// remediable are the actions of the changes a remediation acts on.
var remediable = map[string]bool{"created": true, "deleted": true, "updated": true, "attributes_modified": true, "moved": true}

// remediator is the remediation stage, after detection. It is a route of
// the dispatcher: the alerts it acts on come from the outbox, so an alert
// is durable (and on its way to the sinks) before anything acts on it, and
// one whose remediation a crash or a stop interrupted is remediated at the
// next start (at least once). What it did goes back to the sinks as a
// remediation event.
type remediator struct {
	rules    []config.Rule
	matcher  *config.Matcher
	restorer Restorer
	log      zerolog.Logger
	// publish writes outcome events to the outbox.
	publish func(...alerts.Event) error
	// standing reports whether path's alert in state is still the one
	// standing (not resolved, not superseded).
	standing func(path, state string) bool
	// sealed reports whether the baseline last compared with is sealed.
	sealed func() bool
	// restoring is told of each path about to be restored and returns
	// what to call when its restore ended; intact reports whether a path
	// is still what a restore left there (restored.go). Nil: neither.
	restoring func(path string) (end func(ok bool))
	intact    func(path string) bool
	st        *stats
}

// newRemediator returns the remediation stage of c, or nil when no rule
// asks for one.
func newRemediator(c *config.Config, m *config.Matcher, r Restorer, log zerolog.Logger, st *stats) *remediator {
	for _, rule := range c.Rules {
		if rule.Remediation.Acts() {
			return &remediator{rules: c.Rules, matcher: m, restorer: r, log: log, st: st}
		}
	}
	return nil
}

// policy returns the remediation of path: that of the rule deciding it.
func (r *remediator) policy(path string) config.Remediation {
	if i := r.matcher.Rule(path); i >= 0 {
		return r.rules[i].Remediation
	}
	return config.Remediation{}
}

// wants is the route's filter: an alert of the hardened phase about a
// change, against a sealed baseline, on a path (or, for a move, either
// name) whose rule remediates. Learning events of the setup phase, scan
// errors, notices and integrity failures are never remediated.
func (r *remediator) wants(ev *alerts.Event) bool {
	if !remediable[ev.Event.Action] || ev.Event.Severity < alerts.SeverityAlert || ev.File == nil ||
		ev.Vigil == nil || ev.Vigil.Phase != engine.PhaseHardened || !r.sealed() {
		return false
	}
	for _, p := range eventPaths(ev) {
		if r.policy(p).Acts() {
			return true
		}
	}
	return false
}

// eventPaths returns the exact paths an event names: file.path, and for a
// move the old path first.
func eventPaths(ev *alerts.Event) []string {
	var out []string
	if ev.Vigil != nil && ev.Vigil.Previous != nil && ev.Vigil.Previous.Path != "" {
		out = append(out, exact(ev.Vigil.Previous.Path, ev.Vigil.Previous.PathBase64))
	}
	b64 := ""
	if ev.Vigil != nil {
		b64 = ev.Vigil.PathBase64
	}
	return append(out, exact(ev.File.Path, b64))
}

// exact returns the exact bytes of a path reported as text and, when it is
// not valid UTF-8, base64.
func exact(text, b64 string) string {
	if b64 == "" {
		return text
	}
	if b, err := base64.StdEncoding.DecodeString(b64); err == nil {
		return string(b)
	}
	return text
}

// Send implements alerts.Sink: each alert is remediated and the outcome
// published. An alert is accepted once its outcome is in the outbox; one
// interrupted by the stop stays queued.
func (r *remediator) Send(ctx context.Context, evs []*alerts.Event, data [][]byte) (int, error) {
	for i, ev := range evs {
		out := r.remediate(ctx, ev, data[i])
		if ctx.Err() != nil {
			return i, ctx.Err()
		}
		if err := r.publish(out...); err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

// Close implements alerts.Sink.
func (r *remediator) Close() error { return nil }

// remediate acts on one alert and returns the events saying what it did.
func (r *remediator) remediate(ctx context.Context, ev *alerts.Event, data []byte) []alerts.Event {
	if ev.Event.Action == "events_dropped" {
		n := int64(0)
		if ev.Vigil != nil && ev.Vigil.Dropped != nil {
			n = ev.Vigil.Dropped.Count
		}
		r.log.Error().Int64("alerts", n).Msg("remediation queue full: alerts not remediated")
		notice := alerts.Notice("remediation_dropped", fmt.Sprintf("%d alerts were not remediated: the remediation queue was full (watch.outbox_max)", n), "", time.Now())
		notice.Event.Severity = alerts.SeverityAlert
		notice.Event.Outcome = "failure"
		return []alerts.Event{notice}
	}
	if ev.File == nil {
		return nil
	}
	paths := eventPaths(ev)
	if !r.standing(paths[len(paths)-1], ev.State()) {
		r.log.Info().Str("path", ev.File.Path).Str("alert", ev.Event.ID).Msg("not remediated: the alert no longer stands (resolved or superseded)")
		return nil
	}
	var out []alerts.Event
	ran := false
	for _, p := range paths {
		rem := r.policy(p)
		if !rem.Acts() || (rem.Policy == config.RemediateExec && ran) {
			continue // one run of a command per alert
		}
		ran = ran || rem.Policy == config.RemediateExec
		began := time.Now()
		var outcome alerts.Event
		switch rem.Policy {
		case config.RemediateExec:
			timeout := rem.Timeout
			if timeout <= 0 {
				timeout = config.DefaultRemediationTimeout
			}
			proc, timedOut, err := alerts.RunCommand(ctx, rem.Command, timeout, ev, p, data, "VIGIL_REMEDIATION=exec")
			outcome = alerts.Remediated(ev, alerts.RemediationInfo{Policy: rem.Policy, TimedOut: timedOut}, err, time.Since(began), time.Now())
			outcome.Process = proc
		case config.RemediateRestore:
			if ev.Event.Action == "attributes_modified" && r.intact != nil && r.intact(p) {
				r.log.Info().Str("path", p).Str("alert", ev.Event.ID).Msg("not restored again: the path is what the last restore left there")
				continue
			}
			var end func(bool)
			if r.restoring != nil {
				end = r.restoring(p)
			}
			res, err := r.restore(ctx, p)
			if end != nil {
				end(err == nil)
			}
			outcome = alerts.Remediated(ev, alerts.RemediationInfo{Policy: rem.Policy, Source: res.Source, Hash: res.Hash}, err, time.Since(began), time.Now())
			outcome.File.Path = ev.File.Path
			if p != paths[len(paths)-1] {
				outcome.File.Path = ev.Vigil.Previous.Path // the old name of a move
			}
		}
		if ctx.Err() != nil {
			return nil // stopped: remediated again at the next start
		}
		outcome.SetID(ev.Event.ID + ":remediation")
		r.logOutcome(&outcome)
		out = append(out, outcome)
	}
	return out
}

func (r *remediator) restore(ctx context.Context, path string) (RestoreResult, error) {
	if r.restorer == nil { // CheckRemediation refuses such a configuration
		return RestoreResult{}, errors.New("no restorer in this vigil")
	}
	return r.restorer.Restore(ctx, path)
}

func (r *remediator) logOutcome(ev *alerts.Event) {
	rem := ev.Vigil.Remediation
	if ev.Event.Outcome == "success" {
		r.st.remediations.Add(1)
		r.log.Warn().Str("path", ev.File.Path).Str("policy", rem.Policy).Str("alert", rem.AlertID).Msg("remediated")
		return
	}
	r.st.remediationFailures.Add(1)
	l := r.log.Error().Str("path", ev.File.Path).Str("policy", rem.Policy).Str("alert", rem.AlertID).Bool("timed_out", rem.TimedOut)
	if ev.Process != nil && ev.Process.ExitCode != nil {
		l = l.Int("exit_code", *ev.Process.ExitCode)
	}
	l.Msg("remediation failed; the alert stands")
}
