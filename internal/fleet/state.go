package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// Names of the buckets and streams (see the package doc).
const (
	BucketHosts   = "vigil_hosts"
	BucketKeys    = "vigil_keys"
	BucketWitness = "vigil_witness"
	StreamFleet   = "VIGIL_FLEET"
	StreamEvents  = "VIGIL_EVENTS"
	// SubjectFleet prefixes the fleet events' subjects.
	SubjectFleet = "vigil.fleet."
)

// HostState is what a host publishes to vigil_hosts.
type HostState struct {
	Host    string `json:"host"`
	Profile string `json:"profile,omitempty"`
	Version string `json:"vigil_version"`
	// Time is the host's clock when it published (the witness uses the
	// server's time of the KV entry instead).
	Time time.Time `json:"time"`
	// HeartbeatSeconds is the host's heartbeat interval.
	HeartbeatSeconds float64 `json:"heartbeat_seconds"`
	// Checkpoint is the C2SP checkpoint of the audit log: a signed note
	// when the kept one is signed at this size, else its text.
	Checkpoint string `json:"checkpoint"`
	// Proofs are consistency proofs to Checkpoint from the sizes the host
	// was last witnessed or published at.
	Proofs []Proof `json:"proofs,omitempty"`
	// Pubkey is the host's pinned verifier key (trust.pubkey), offered
	// for trust on first use.
	Pubkey string `json:"pubkey,omitempty"`
	// Baseline, Root and Statement describe the current baseline: its id,
	// root hash and signed statement (empty when it is not sealed).
	Baseline  uint64 `json:"baseline"`
	Root      string `json:"root"`
	Statement string `json:"statement,omitempty"`
	// PortableRoot is the current baseline's portable root (what hosts
	// and golden baselines are compared by; its manifests are in
	// vigil_nodes); the signed statement carries it too.
	PortableRoot string `json:"portable_root,omitempty"`
	// Phase is the phase in force and its record.
	Phase PhaseInfo `json:"phase"`
	// LastCheck summarizes the host's last check.
	LastCheck *CheckSummary `json:"last_check,omitempty"`
	// EventSequence is the highest event sequence the host queued (0:
	// unknown).
	EventSequence uint64 `json:"event_sequence"`
	// EventsComplete says every event the host queues goes to the events
	// stream (a nats sink without min_severity or paths): only then is a
	// hole in its sequences on the stream a loss, not a filter.
	EventsComplete bool `json:"events_complete,omitempty"`
	// Trust names the critical findings of the host's trust decision.
	Trust []string `json:"trust,omitempty"`
}

// Proof is an RFC 6962 consistency proof from tree size From.
type Proof struct {
	From   int64    `json:"from"`
	Hashes [][]byte `json:"hashes"`
}

// PhaseInfo is the host's phase, as its audit log records it.
type PhaseInfo struct {
	Phase string    `json:"phase"`
	Since time.Time `json:"since,omitzero"`
	// Record is the audit record that set it; Signed says that record
	// was a signed statement (a move back to setup must be).
	Record int64 `json:"record,omitempty"`
	Signed bool  `json:"signed,omitempty"`
}

// CheckSummary is the last check's outcome.
type CheckSummary struct {
	Time     time.Time `json:"time"`
	Method   string    `json:"method,omitempty"`
	ExitCode int       `json:"exit_code"`
	Added    int64     `json:"added"`
	Removed  int64     `json:"removed"`
	Changed  int64     `json:"changed"`
	Moved    int64     `json:"moved"`
	Errors   int64     `json:"errors"`
}

// States of a host in [Record.State] and in vigil fleet status.
const (
	StateOK            = "ok"
	StateSilent        = "silent"
	StateRollback      = "rollback"
	StateFork          = "fork"
	StateUnsealed      = "unsealed"
	StateEventsMissing = "events_missing"
	StateCheckFailing  = "check_failing"
	StateUnknownHost   = "unknown_host"
	StateBadSignature  = "bad_signature"
	StatePending       = "pending" // published, not yet witnessed
	// StateRecordDeleted: a witness's record of the host was purged
	// behind its back; nothing is cosigned until vigil fleet forget.
	StateRecordDeleted = "record_deleted"
)

// Record is one witness's record of one host, in vigil_witness.
type Record struct {
	Host string `json:"host"`
	// Witness names the witness key; WitnessID is its key hash, the
	// record key's last part.
	Witness   string `json:"witness"`
	WitnessID string `json:"witness_id"`
	// HostRevision is the vigil_hosts revision decided on last.
	HostRevision uint64 `json:"host_revision"`
	// Checkpoint is the newest checkpoint this witness cosigned, as a
	// signed note with its cosignature; Size and Hash repeat its values.
	Checkpoint string `json:"checkpoint,omitempty"`
	Size       int64  `json:"size"`
	Hash       []byte `json:"hash,omitempty"`
	// State is the host's state after the decision; Problem says why
	// when it is not ok.
	State   string `json:"state"`
	Problem string `json:"problem,omitempty"`
	// What the last decision saw, to raise each event once.
	Phase        string `json:"phase,omitempty"`
	Unsealed     bool   `json:"unsealed,omitempty"`
	CheckFailing bool   `json:"check_failing,omitempty"`
	Silent       bool   `json:"silent,omitempty"`
	// Gap is the first sequence of the lowest hole in the host's events
	// on the stream at the last decision; EventsMissing says it was there
	// at two decisions in a row (events_missing was raised).
	Gap           uint64 `json:"gap,omitempty"`
	EventsMissing bool   `json:"events_missing,omitempty"`
	// Drift counts the entries where the host's portable root differs
	// from its profile's golden baseline (-1 or absent: not compared),
	// DriftRoot and GoldenRevision are what was compared.
	Drift          int    `json:"drift,omitempty"`
	DriftRoot      string `json:"drift_root,omitempty"`
	GoldenRevision uint64 `json:"golden_revision,omitempty"`
	// Seen is the server's time of the host's newest entry.
	Seen time.Time `json:"seen"`
	// Decided is when the witness decided.
	Decided time.Time `json:"decided"`
}

// decode parses a bucket value into v.
func decode(bucket, key string, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s/%s: %w: %w", bucket, key, ErrState, err)
	}
	return nil
}
