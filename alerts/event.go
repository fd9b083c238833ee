package alerts

import (
	"strconv"
	"strings"
	"time"

	"vigil/internal/textdiff"
)

// ECSVersion is the version of the Elastic Common Schema the events follow.
const ECSVersion = "8.11.0"

// Values of the event.module and event.dataset fields of every vigil event.
const (
	Module  = "vigil"
	Dataset = "vigil.fim"
)

// Event is one vigil event. It marshals with encoding/json to the layout
// described in the package documentation; fields with no value are omitted.
type Event struct {
	Timestamp time.Time  `json:"@timestamp"`
	ECS       ECS        `json:"ecs"`
	Host      *Host      `json:"host,omitempty"`
	Event     EventInfo  `json:"event"`
	File      *File      `json:"file,omitempty"`
	Error     *ErrorInfo `json:"error,omitempty"`
	Process   *Process   `json:"process,omitempty"`
	User      *User      `json:"user,omitempty"`
	Threat    *Threat    `json:"threat,omitempty"`
	Vigil     *Vigil     `json:"vigil,omitempty"`
}

// Threat is the ECS threat field set: the MITRE ATT&CK techniques the
// classification table ties a change to (see [Classify]). The arrays are
// parallel: the n-th sub-technique belongs to the n-th technique.
type Threat struct {
	Framework string          `json:"framework"`
	Technique ThreatTechnique `json:"technique"`
}

// ThreatTechnique is threat.technique: ids ("T1548"), names and
// references of the techniques, and their sub-techniques ("T1548.001").
type ThreatTechnique struct {
	ID           []string           `json:"id"`
	Name         []string           `json:"name"`
	Reference    []string           `json:"reference,omitempty"`
	Subtechnique ThreatSubtechnique `json:"subtechnique"`
}

// ThreatSubtechnique is threat.technique.subtechnique.
type ThreatSubtechnique struct {
	ID        []string `json:"id"`
	Name      []string `json:"name"`
	Reference []string `json:"reference,omitempty"`
}

// newThreat returns the threat fields of ts, nil when there is none.
func newThreat(ts []Technique) *Threat {
	if len(ts) == 0 {
		return nil
	}
	th := &Threat{Framework: Framework}
	tt, st := &th.Technique, &th.Technique.Subtechnique
	for _, t := range ts {
		id, _, _ := strings.Cut(t.SubID, ".")
		tt.ID = append(tt.ID, t.ID)
		tt.Name = append(tt.Name, t.Name)
		tt.Reference = append(tt.Reference, "https://attack.mitre.org/techniques/"+id+"/")
		st.ID = append(st.ID, t.SubID)
		st.Name = append(st.Name, t.SubName)
		st.Reference = append(st.Reference, t.Reference())
	}
	return th
}

// Process is the process field set: the command a remediation ran, or
// the process that made a change (the watch, when fanotify told it; then
// [Event.User] is its user).
type Process struct {
	PID         int            `json:"pid,omitempty"`
	Name        string         `json:"name,omitempty"`
	Executable  string         `json:"executable,omitempty"`
	CommandLine string         `json:"command_line,omitempty"`
	Args        []string       `json:"args,omitempty"`
	Parent      *ProcessParent `json:"parent,omitempty"`
	// ExitCode is the command's exit status; -1 when a signal ended it
	// (a timeout kills it), nil when it did not start.
	ExitCode *int `json:"exit_code,omitempty"`
}

// ProcessParent is process.parent.
type ProcessParent struct {
	PID int `json:"pid"`
}

// User is the user field set: the (effective) user of the process that
// made a change.
type User struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// By says who made the change ev reports, for people: "by PID (exe) uid
// N"; "" when unknown.
func (ev *Event) By() string {
	p := ev.Process
	if p == nil || p.PID == 0 {
		return ""
	}
	s := "by " + strconv.Itoa(p.PID)
	switch {
	case p.Executable != "":
		s += " (" + p.Executable + ")"
	case p.Name != "":
		s += " (" + p.Name + ")"
	}
	if ev.User != nil && ev.User.ID != "" {
		s += " uid " + ev.User.ID
		if ev.User.Name != "" {
			s += " (" + ev.User.Name + ")"
		}
	}
	return s
}

// ECS is the ecs field set.
type ECS struct {
	Version string `json:"version"`
}

// Host is the host field set.
type Host struct {
	Name string `json:"name"`
}

// EventInfo is the event field set: what kind of event this is.
type EventInfo struct {
	// ID identifies the event for deduplication downstream: the watch
	// gives the same id to the same finding however often it is sent (see
	// [Event.SetID]). Empty in check --json.
	ID       string   `json:"id,omitempty"`
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome,omitempty"`
	Module   string   `json:"module"`
	Dataset  string   `json:"dataset"`
	// Duration is in nanoseconds, as ECS defines it; summaries only.
	Duration int64 `json:"duration,omitempty"`
	// Severity is one of the Severity constants: set by the watch, or by
	// the host's phase (see [Event.SetPhase]).
	Severity int `json:"severity,omitempty"`
	// Sequence is the host's sequence number of the event, assigned as
	// the watch queues it (1, 2, ...: a gap is an event lost); 0, and
	// omitted, outside the watch's outbox.
	Sequence uint64 `json:"sequence,omitempty"`
}

// File is the file field set. Path and TargetPath are readable forms; see
// [FileExtra] for the exact bytes of names that are not valid UTF-8.
type File struct {
	Path       string    `json:"path,omitempty"`
	Type       string    `json:"type,omitempty"`
	Mode       string    `json:"mode,omitempty"`
	UID        string    `json:"uid,omitempty"`
	GID        string    `json:"gid,omitempty"`
	Size       *int64    `json:"size,omitempty"`
	Mtime      time.Time `json:"mtime,omitzero"`
	Ctime      time.Time `json:"ctime,omitzero"`
	Inode      string    `json:"inode,omitempty"`
	TargetPath string    `json:"target_path,omitempty"`
	Hash       *FileHash `json:"hash,omitempty"`
}

// FileHash is the file.hash field set.
type FileHash struct {
	BLAKE3 string `json:"blake3,omitempty"`
}

// ErrorInfo is the error field set.
type ErrorInfo struct {
	Message string `json:"message,omitempty"`
}

// FileExtra is what vigil records about a file beyond the ECS file fields.
// It appears under vigil for the current entry and under vigil.previous for
// the old one.
type FileExtra struct {
	// PathBase64 and TargetPathBase64 hold the exact bytes of a path or
	// symlink target that is not valid UTF-8, in standard base64.
	PathBase64       string `json:"path_base64,omitempty"`
	TargetPathBase64 string `json:"target_path_base64,omitempty"`
	// HashState is why the content hash is unknown: skipped, unstable or
	// failed. It is empty when the hash is known or there is none to take.
	HashState string `json:"hash_state,omitempty"`
	// Xattrs maps extended attribute names to their values in standard
	// base64.
	Xattrs map[string]string `json:"xattrs,omitempty"`
	// Flags are the inode flags in hex ("0x00000010"), when known, and
	// FlagsText the same as lsattr prints them ("----i---------e-------").
	Flags     string `json:"flags,omitempty"`
	FlagsText string `json:"flags_text,omitempty"`
	// Capabilities is the security.capability xattr (also in Xattrs, raw)
	// as getcap prints it ("cap_setuid=ep"); "(invalid)" when it is not a
	// vfs_cap_data value.
	Capabilities string `json:"capabilities,omitempty"`
	Nlink        uint64 `json:"nlink,omitempty"`
	// Rdev is the device number a device node points to.
	Rdev uint64 `json:"rdev,omitempty"`
}

func (x *FileExtra) isZero() bool {
	return x.PathBase64 == "" && x.TargetPathBase64 == "" && x.HashState == "" &&
		len(x.Xattrs) == 0 && x.Flags == "" && x.FlagsText == "" && x.Capabilities == "" && x.Nlink == 0 && x.Rdev == 0
}

// Previous holds the old values of a changed or moved entry, with the same
// keys as the file field set and [FileExtra]. Path is set for moves only.
type Previous struct {
	File
	FileExtra
}

// Vigil holds the fields that ECS has no place for.
type Vigil struct {
	FileExtra
	// Changed names the attributes that differ, as [merkle.Attr.Names] does.
	Changed []string `json:"changed,omitempty"`
	// Security are the tags of the classification table that apply to a
	// change (see [Classify]); Accounts what a changed /etc/passwd or
	// /etc/group shows about privileged accounts.
	Security []string  `json:"security,omitempty"`
	Accounts *Accounts `json:"accounts,omitempty"`
	// Diff is the unified diff of a kept file's content (bounded, secrets
	// masked), or why there is none (see [Event.SetDiff]).
	Diff     *textdiff.Diff `json:"diff,omitempty"`
	Previous *Previous      `json:"previous,omitempty"`
	Summary  *Summary       `json:"summary,omitempty"`
	// Phase is the host's security phase when the event was made.
	Phase string `json:"phase,omitempty"`
	// Dropped is set on the watch's events_dropped summary.
	Dropped *DroppedInfo `json:"dropped,omitempty"`
	// Remediation is set on the outcome of a remediation.
	Remediation *RemediationInfo `json:"remediation,omitempty"`
	// Restore is set on the events of vigil restore, Device on
	// device_errors.
	Restore *Restore `json:"restore,omitempty"`
	Device  *Device  `json:"device,omitempty"`
	// Missing is set on events_missing, Coalesced on events_coalesced.
	Missing   *MissingInfo   `json:"missing,omitempty"`
	Coalesced *CoalescedInfo `json:"coalesced,omitempty"`
	// Mount is set on mount_changed.
	Mount *MountInfo `json:"mount,omitempty"`
	// Posture is set on the events of a posture change (see [Posture]).
	Posture *PostureChange `json:"posture,omitempty"`
}

func (v *Vigil) isZero() bool {
	return v.FileExtra.isZero() && len(v.Changed) == 0 && len(v.Security) == 0 && v.Accounts == nil && v.Diff == nil && v.Previous == nil && v.Summary == nil && v.Phase == "" &&
		v.Dropped == nil && v.Remediation == nil && v.Restore == nil && v.Device == nil && v.Missing == nil && v.Coalesced == nil && v.Mount == nil && v.Posture == nil
}

// SetPhase records the host's phase in ev (vigil.phase) and the severity
// it implies for a change: [SeverityAlert] in the hardened phase, where
// the sealed baseline is enforced, raised to [SeverityCritical] when the
// classification table ties the change to an ATT&CK technique (ev.Threat
// is set); [SeverityLearning] in the setup phase, technique or not (the
// setup phase is when packages install setuid programs and units).
// Errors, notices and integrity failures keep their own; "" leaves ev
// alone.
//
// A caller that decides a severity itself (a future per-rule override)
// sets ev.Event.Severity to another value than [SeverityAlert] before
// calling SetPhase, which keeps it in the hardened phase.
func (ev *Event) SetPhase(phase string) {
	if phase == "" {
		return
	}
	if ev.Vigil == nil {
		ev.Vigil = &Vigil{}
	}
	ev.Vigil.Phase = phase
	if ev.Event.Severity == 0 {
		ev.Event.Severity = ev.kindSeverity()
	}
	switch {
	case ev.Event.Severity != SeverityAlert:
	case phase != "hardened":
		ev.Event.Severity = SeverityLearning
	case ev.Threat != nil:
		ev.Event.Severity = SeverityCritical
	}
}

// kindSeverity is the severity of an event by what it reports.
func (ev *Event) kindSeverity() int {
	switch {
	case ev.Vigil != nil && ev.Vigil.Summary != nil && ev.Vigil.Summary.IntegrityFailed:
		return SeverityCritical
	case ev.Event.Action == "summary":
		return SeverityInfo
	case ev.Error != nil:
		return SeverityWarning
	}
	return SeverityAlert
}

// newEvent returns an event with the fields every vigil event shares.
func newEvent(kind, action string, types []string, host string, now time.Time) Event {
	ev := Event{
		Timestamp: now.UTC(),
		ECS:       ECS{Version: ECSVersion},
		Event: EventInfo{
			Kind:     kind,
			Category: []string{"file"},
			Type:     types,
			Action:   action,
			Module:   Module,
			Dataset:  Dataset,
		},
	}
	if host != "" {
		ev.Host = &Host{Name: host}
	}
	return ev
}

// SetDiff records d, the diff of the file's kept content, in ev
// (vigil.diff); nil leaves ev alone. For /etc/passwd and /etc/group it
// also names, in vigil.accounts, the accounts and groups the diff adds,
// the accounts whose uid became 0 and the members added to wheel, sudo
// or admin (a truncated diff names none).
func (ev *Event) SetDiff(d *textdiff.Diff) {
	if d == nil {
		return
	}
	if ev.Vigil == nil {
		ev.Vigil = &Vigil{}
	}
	ev.Vigil.Diff = d
	if ev.File == nil || d.Unified == "" || d.Truncated {
		return
	}
	if kind := accountsKind(ev.File.Path); kind != "" {
		a := ev.Vigil.Accounts
		if a == nil {
			a = &Accounts{}
		}
		addDiffAccounts(a, kind, d.Unified)
		if len(a.Added)+len(a.UID0Added)+len(a.PrivilegedAdded)+len(a.UID0)+len(a.Privileged) > 0 {
			ev.Vigil.Accounts = a
		}
	}
}

// setVigil stores v in ev unless it holds nothing.
func (ev *Event) setVigil(v *Vigil) {
	if v.isZero() {
		ev.Vigil = nil
		return
	}
	ev.Vigil = v
}
