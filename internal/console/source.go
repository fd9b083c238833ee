package console

import (
	"context"
	"errors"
	"time"
)

// ErrNoHost is what [Source.Host] returns for a host it does not know; the
// page is then a 404.
var ErrNoHost = errors.New("no such host")

// Source is what the console shows. Its methods are called per request and
// must be safe for concurrent use; what they return is not changed after.
type Source interface {
	// Phase is the phase of the host serving the console, shown on every
	// page and served at /api/v1/phase; nil when the console serves a
	// fleet rather than one host.
	Phase(ctx context.Context) (*Phase, error)
	// Hosts lists every host, for the fleet page.
	Hosts(ctx context.Context) ([]HostSummary, error)
	// Host is one host's page; ErrNoHost if there is none of that name.
	Host(ctx context.Context, name string) (*Host, error)
}

// Phase is a host's security phase, as /api/v1/phase serves it.
type Phase struct {
	Host  string    `json:"host"`
	Phase string    `json:"phase"` // setup or hardened
	Since time.Time `json:"since,omitzero"`
	// Sealed says whether the current baseline is sealed (signed).
	Sealed bool `json:"sealed"`
	// Allowed lists the operations the phase allows, as commands.
	Allowed []string `json:"allowed_operations"`
	// Findings are the trust decision's findings that stand (for example
	// phase_marker_mismatch), by name.
	Findings []string `json:"findings,omitempty"`
}

// Setup reports whether p is the setup phase (the banner's condition).
func (p *Phase) Setup() bool { return p != nil && p.Phase == "setup" }

// HostSummary is a host's row on the fleet page.
type HostSummary struct {
	Name    string
	Profile string
	Phase   string
	Sealed  bool
	// Root is the sealed (or current) baseline's root hash, hex.
	Root string
	// Witnessed is the size of the newest witnessed checkpoint; 0 if none.
	Witnessed uint64
	// Heartbeat is when the host was last heard from; zero if never.
	Heartbeat time.Time
	// State is ok, silent, rollback, fork, unsealed, events_missing,
	// drifted, ...
	State string
	// Drift counts the entries that differ from the profile's golden
	// baseline; -1 when there is no golden baseline to compare with.
	Drift int
	// Alerts counts the standing alerts.
	Alerts int
	// Days counts alerts and changes per day, oldest first, for the
	// timeline (may be empty).
	Days []Day
}

// Day is one day of a timeline.
type Day struct {
	Date    time.Time
	Alerts  int
	Changes int
}

// Host is one host's page.
type Host struct {
	HostSummary
	Phase        *Phase
	Baselines    []Baseline
	Audit        []AuditRecord
	Alerts       []Alert
	PhaseHistory []PhaseChange
}

// Baseline is one stored baseline (as vigil log lists it).
type Baseline struct {
	ID      uint64
	Created time.Time
	Command string
	Entries int64
	Root    string
	Reason  string
	User    string
	Current bool
}

// AuditRecord is one record of the host's audit log.
type AuditRecord struct {
	Index    uint64
	Time     time.Time
	Type     string
	Baseline uint64
	Root     string
	Phase    string
	Reason   string
	User     string
	SignedBy string
	// Cosigners names the witnesses that cosigned a checkpoint covering
	// this record (fleet only).
	Cosigners []string
}

// Alert is a standing alert: a path that differs from the baseline.
type Alert struct {
	Time     time.Time
	Path     string
	Action   string
	Severity int
	Security []string
	// Process is who made the change when the intake saw it: pid,
	// executable and user; empty when unknown.
	Process string
}

// PhaseChange is one move between the phases.
type PhaseChange struct {
	Time   time.Time
	From   string
	To     string
	User   string
	Reason string
	Signed bool
}

// Differ is a [Source] that can compare two hosts, or a host and its
// profile's golden baseline: the console's diff page.
type Differ interface {
	Diff(ctx context.Context, host, other string, golden bool) (*DiffView, error)
}

// DiffView is the diff page: the entries where From and To differ.
type DiffView struct {
	From, To string
	Entries  []DiffEntry
	// Fetched and Bytes say what the comparison read.
	Fetched int
	Bytes   int64
}

// DiffEntry is one differing entry, with its changed attributes' values
// on both sides ("mode: 0644 -> 0666").
type DiffEntry struct {
	Action  string
	Path    string
	Details []string
}
