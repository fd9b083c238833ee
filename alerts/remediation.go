package alerts

import "time"

// Restore is vigil.restore: what a restore from a Btrfs snapshot did.
type Restore struct {
	// Snapshot is the snapshot's top directory the copy came from, Baseline
	// the baseline it was proven against.
	Snapshot string `json:"snapshot,omitempty"`
	Baseline uint64 `json:"baseline,omitempty"`
	// Entries are the paths put back (to be put back, in a dry run);
	// Quarantined where the inodes they replaced went.
	Entries     []string `json:"entries,omitempty"`
	Quarantined []string `json:"quarantined,omitempty"`
	// Cloned and Copied count the files reflinked from the snapshot and
	// those copied.
	Cloned int  `json:"cloned,omitempty"`
	Copied int  `json:"copied,omitempty"`
	DryRun bool `json:"dry_run,omitempty"`
}

// FromRestore returns the event of one path's restore: action is
// "restored", "intact", "would_restore", "restore_refused" or
// "restore_failed"; changed names what differed from the baseline; errMsg
// says why it was refused or failed.
func FromRestore(action, path string, changed []string, r Restore, errMsg, host string, now time.Time) Event {
	ev := newEvent("event", action, []string{"change"}, host, now)
	ev.Event.Outcome = "success"
	if errMsg != "" {
		ev.Event.Type, ev.Event.Outcome = []string{"info"}, "failure"
		ev.Error = &ErrorInfo{Message: errMsg}
		ev.Event.Severity = SeverityWarning
	}
	if action == "intact" || action == "would_restore" {
		ev.Event.Type, ev.Event.Severity = []string{"info"}, SeverityInfo
	}
	ev.File = &File{}
	v := &Vigil{Changed: changed, Restore: &r}
	ev.File.Path, v.PathBase64 = text(path)
	ev.setVigil(v)
	return ev
}

// Device is vigil.device: a Btrfs device whose error counters are not
// those recorded with the baseline.
type Device struct {
	FSID   string `json:"fsid"`
	DevID  uint64 `json:"devid"`
	Device string `json:"device,omitempty"`
	// Changed names the counters that differ; Recorded and Current hold
	// every counter by name.
	Changed  []string          `json:"changed,omitempty"`
	Recorded map[string]uint64 `json:"recorded,omitempty"`
	Current  map[string]uint64 `json:"current,omitempty"`
	// Reset says a counter went down (the counters were reset, which
	// erases what they counted); Missing that the device is gone from the
	// filesystem.
	Reset   bool `json:"reset,omitempty"`
	Missing bool `json:"missing,omitempty"`
}

// DeviceErrors returns the device_errors event of d: an integrity finding,
// critical in either phase (the storage under the baseline failed).
func DeviceErrors(d Device, host string, now time.Time) Event {
	ev := newEvent("alert", "device_errors", []string{"info"}, host, now)
	ev.Event.Category = []string{"host"}
	ev.Event.Severity = SeverityCritical
	ev.Vigil = &Vigil{Device: &d}
	return ev
}
