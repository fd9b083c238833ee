package alerts

import "time"

// PostureChange is vigil.posture: one posture entry (internal/posture)
// that differs from the baseline's.
type PostureChange struct {
	Key    string `json:"key"`
	Action string `json:"action"` // added, removed, changed
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
}

// severities maps the posture profiles' severity names to event severities.
var severities = map[string]int{
	"info": SeverityInfo, "warning": SeverityWarning, "alert": SeverityAlert, "critical": SeverityCritical,
}

// Posture returns the event of one posture change (event.action
// "posture_changed", "posture_added" or "posture_removed"; category
// configuration) with the severity named (info, warning, alert,
// critical: the engine gives info outside the hardened phase). Its
// event.kind is always "alert", as every finding of check's: a saved
// report (update --from) passes over it.
func Posture(c PostureChange, severity, host string, now time.Time) Event {
	typ := map[string]string{"added": "creation", "removed": "deletion"}[c.Action]
	if typ == "" {
		typ = "change"
	}
	ev := newEvent("alert", "posture_"+c.Action, []string{typ}, host, now)
	ev.Event.Category = []string{"configuration"}
	ev.Event.Severity = severities[severity]
	if ev.Event.Severity == 0 {
		ev.Event.Severity = SeverityAlert
	}
	ev.Vigil = &Vigil{Posture: &c}
	return ev
}
