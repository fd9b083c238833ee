package alerts

import "time"

// Summary describes one run of a vigil command. In a summary event it
// appears under vigil.summary, but for Duration, which goes to
// event.duration.
type Summary struct {
	Command string `json:"command"`
	// Entries is the number of entries checked or recorded.
	Entries int64 `json:"entries"`
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
	// Changed counts updated and attributes_modified entries.
	Changed int64 `json:"changed"`
	Moved   int64 `json:"moved"`
	Errors  int64 `json:"errors"`
	// Hashed is the number of files whose content was read and hashed.
	Hashed      int64 `json:"hashed"`
	BytesHashed int64 `json:"bytes_hashed"`
	// OldRoot and NewRoot are the root hashes, in hex, of the baseline and
	// of the tree seen now; either may be empty.
	OldRoot  string        `json:"old_root,omitempty"`
	NewRoot  string        `json:"new_root,omitempty"`
	Duration time.Duration `json:"-"`
	ExitCode int           `json:"exit_code"`
	// IntegrityFailed says the stored baseline did not match its recorded
	// hashes (exit code 8): its report cannot be trusted.
	IntegrityFailed bool `json:"integrity_failed"`
	// ConfigChanged says the configuration in use is not the one the
	// baseline was taken with (its roots, excludes or rules): paths it no
	// longer looks at could hide changes.
	ConfigChanged bool `json:"config_changed,omitempty"`
	// Scope lists the paths the run covered.
	Scope []string `json:"scope,omitempty"`
	// Method says how a check found what changed: "btrfs" (a search of
	// what changed since the baseline's Btrfs snapshots), "scan" (a walk
	// with the stat cache) or "full" (every file read).
	Method string `json:"method,omitempty"`
	// Trust lists the critical findings of the trust decision taken before
	// the run (phase_marker_mismatch, checkpoint_missing, ...): exit code 8.
	Trust []string `json:"trust,omitempty"`
	// Phase is the phase in force, as the audit log records it.
	Phase string `json:"phase,omitempty"`
}

// SummaryEvent returns the event closing a run described by s.
func SummaryEvent(s Summary, host string, now time.Time) Event {
	ev := newEvent("metric", "summary", []string{"info"}, host, now)
	ev.Event.Duration = s.Duration.Nanoseconds()
	ev.setVigil(&Vigil{Summary: &s})
	return ev
}
