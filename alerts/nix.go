package alerts

import "time"

// NixFinding is one finding of the Nix store's check, as the check names
// it: its kind (event.action: nix_content_changed, nix_path_unregistered,
// nix_closure_added, ...), its severity (critical, high or medium), the
// store path, and the line that says what was found.
type NixFinding struct {
	Action, Severity, Path, Message string
}

// nixSeverities maps the Nix check's severities to event.severity.
var nixSeverities = map[string]int{"critical": SeverityCritical, "high": SeverityAlert, "medium": SeverityWarning}

// Nix returns the event of a finding of the Nix store's check: kind
// alert, type change, outcome failure, file.path the store path (a
// directory, a file or a symlink), error.message the finding's line.
func Nix(f NixFinding, host string, now time.Time) Event {
	ev := Notice(f.Action, f.Message, host, now)
	ev.Event.Kind, ev.Event.Type, ev.Event.Outcome = "alert", []string{"change"}, "failure"
	ev.Event.Severity = nixSeverities[f.Severity]
	if ev.Event.Severity == 0 {
		ev.Event.Severity = SeverityWarning
	}
	ev.File = &File{Path: f.Path}
	return ev
}
