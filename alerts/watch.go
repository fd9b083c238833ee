package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Severities of the watch's events (event.severity), for sink filters.
const (
	SeverityInfo     = 1 // resolved, catch-up notices, summaries
	SeverityLearning = 2 // a change in the setup phase: learning, not enforced
	SeverityWarning  = 4 // a path could not be verified
	SeverityAlert    = 7 // a change against the baseline
	SeverityCritical = 9 // the baseline failed its integrity check
)

// ParseSeverity accepts a severity's name (info, learning, warning, alert, critical)
// or its number.
func ParseSeverity(s string) (int, bool) {
	switch s {
	case "info":
		return SeverityInfo, true
	case "learning":
		return SeverityLearning, true
	case "warning":
		return SeverityWarning, true
	case "alert":
		return SeverityAlert, true
	case "critical":
		return SeverityCritical, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 100
}

// State returns a digest of what ev says about its file, leaving out when
// it was seen and its id: two events with the same state report the same
// finding.
//
// Attributes that may change without being monitored (mtime, ctime, the
// inode) count only when vigil.changed names them: a file put back to its
// baseline content and mode has a new ctime, and is the same finding. Who
// made the change (process.pid and user) is not part of the finding.
func (ev Event) State() string {
	ev.Timestamp = time.Time{}
	ev.Event.ID = ""
	ev.Event.Sequence = 0 // where the outbox queued it, not what it says
	if ev.Process != nil && ev.Process.PID != 0 {
		ev.Process, ev.User = nil, nil
	}
	if ev.File != nil {
		f := *ev.File
		var changed []string
		if ev.Vigil != nil {
			changed = ev.Vigil.Changed
		}
		if !slices.Contains(changed, "mtime") {
			f.Mtime = time.Time{}
		}
		if !slices.Contains(changed, "ctime") {
			f.Ctime = time.Time{}
		}
		if !slices.Contains(changed, "inode") {
			f.Inode = ""
		}
		ev.File = &f
	}
	if ev.Vigil != nil && ev.Vigil.Previous != nil {
		v := *ev.Vigil
		v.Previous = nil // the baseline's side: the same for one baseline
		ev.Vigil = &v
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic("alerts: marshal event: " + err.Error()) // only plain fields
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// SetID sets event.id from scope (for the watch: the baseline's id and
// root) and the event's [Event.State], so that the same finding against
// the same baseline always has the same id.
func (ev *Event) SetID(scope string) { ev.SetIDOf(scope, ev.State()) }

// SetIDOf is [Event.SetID] for an event whose [Event.State] the caller
// has already computed: state.
func (ev *Event) SetIDOf(scope, state string) {
	sum := sha256.Sum256([]byte(scope + "\x00" + state))
	ev.Event.ID = hex.EncodeToString(sum[:16])
}

// Resolved returns the event saying that path is back in its baseline
// state after an alert.
func Resolved(path string, host string, now time.Time) Event {
	ev := newEvent("event", "resolved", []string{"info"}, host, now)
	ev.Event.Severity = SeverityInfo
	v := &Vigil{}
	ev.File = &File{}
	ev.File.Path, v.PathBase64 = text(path)
	ev.setVigil(v)
	return ev
}

// Tampered returns the event saying that the baseline failed its
// integrity check while the watch read it: what it says cannot be trusted.
func Tampered(err error, host string, now time.Time) Event {
	ev := newEvent("alert", "baseline_tampered", []string{"info"}, host, now)
	ev.Event.Category = []string{"file", "configuration"}
	ev.Event.Outcome = "failure"
	ev.Event.Severity = SeverityCritical
	ev.Error = &ErrorInfo{Message: err.Error()}
	return ev
}

// Notice returns an informational event of the watch (action, e.g.
// "events_lost", "catch_up"), with msg as its message in error.message
// when it reports a failure.
func Notice(action, msg string, host string, now time.Time) Event {
	ev := newEvent("event", action, []string{"info"}, host, now)
	ev.Event.Category = []string{"file", "process"}
	ev.Event.Severity = SeverityInfo
	if msg != "" {
		ev.Error = &ErrorInfo{Message: msg}
	}
	return ev
}

// Dropped returns the summary standing for n events a sink's full outbox
// could not hold, the first and last of them seen at first and last.
func Dropped(sink string, n int64, first, last time.Time, host string, now time.Time) Event {
	ev := newEvent("event", "events_dropped", []string{"info"}, host, now)
	ev.Event.Category = []string{"file", "process"}
	ev.Event.Severity = SeverityWarning
	ev.setVigil(&Vigil{Dropped: &DroppedInfo{Sink: sink, Count: n, First: first.UTC(), Last: last.UTC()}})
	return ev
}

// DroppedInfo counts the events coalesced into an events_dropped summary.
type DroppedInfo struct {
	Sink  string    `json:"sink"`
	Count int64     `json:"count"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// Paths are the first paths (at most 20) of the events turned away,
	// where they had one.
	Paths []string `json:"paths,omitempty"`
}

// RemediationInfo describes a remediation in its outcome event
// (vigil.remediation).
type RemediationInfo struct {
	// Policy is the rule's remediation: exec or restore.
	Policy string `json:"policy"`
	// AlertID is the event.id of the alert remediated.
	AlertID string `json:"alert_id,omitempty"`
	// AlertAction is that alert's event.action (updated, deleted, ...).
	AlertAction string `json:"alert_action,omitempty"`
	// TimedOut says the command was killed at its timeout.
	TimedOut bool `json:"timed_out,omitempty"`
	// Source is where a restore took the path's content from (the
	// snapshot), Hash the hex BLAKE3 of what it put back.
	Source string `json:"source,omitempty"`
	Hash   string `json:"hash,omitempty"`
}

// Remediated returns the event recording the outcome of a remediation of
// alert (err nil: it succeeded): event.action "remediation", event.outcome
// success or failure, file.path and vigil.phase of the alert, the time it
// took in event.duration, why it failed in error.message. A success is a
// warning (the host was changed by vigil), a failure an alert (the alert
// stands). The caller fills in process or the restore's source.
func Remediated(alert *Event, info RemediationInfo, err error, took time.Duration, now time.Time) Event {
	host := ""
	if alert.Host != nil {
		host = alert.Host.Name
	}
	ev := newEvent("event", "remediation", []string{"change"}, host, now)
	ev.Event.Category = []string{"file", "process"}
	ev.Event.Duration = took.Nanoseconds()
	ev.Event.Outcome, ev.Event.Severity = "success", SeverityWarning
	if err != nil {
		ev.Event.Outcome, ev.Event.Severity = "failure", SeverityAlert
		ev.Error = &ErrorInfo{Message: err.Error()}
	}
	v := &Vigil{}
	if alert.File != nil {
		ev.File = &File{Path: alert.File.Path}
	}
	if alert.Vigil != nil {
		v.PathBase64, v.Phase = alert.Vigil.PathBase64, alert.Vigil.Phase
	}
	info.AlertID, info.AlertAction = alert.Event.ID, alert.Event.Action
	v.Remediation = &info
	ev.setVigil(v)
	return ev
}

// TrustFinding returns the event of a finding of vigil's trust decision
// (action, e.g. phase_marker_mismatch, checkpoint_missing): critical, or a
// warning.
func TrustFinding(action string, err error, critical bool, host string, now time.Time) Event {
	ev := Tampered(err, host, now)
	ev.Event.Action = action
	if !critical {
		ev.Event.Severity = SeverityWarning
	}
	return ev
}
