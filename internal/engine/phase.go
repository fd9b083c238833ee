package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/store"
)

// The host's security phases.
const (
	PhaseSetup    = "setup"
	PhaseHardened = "hardened"
)

// PhaseState is the host's phase. The phase in force is the one the audit
// log records: a seal or reseal moves the host to the hardened phase, and
// only a record signed by the pinned key moves it back to setup. The marker
// files are the operator's request: a marker that disagrees with the
// recorded phase is a finding, never a change of policy.
type PhaseState struct {
	// Phase is the phase in force.
	Phase string
	// Since is when the host entered it: the record that moved it there,
	// or, for a host never sealed, the first record of its audit log (zero
	// for a host with none).
	Since time.Time
	// Record is the index of that record in the audit log, -1 for none.
	Record int64
	// Reason and User are the record's (the signed rollback's why and who).
	Reason, User string
	// Requested is what the markers say: hardened when one exists.
	Requested string
	// Marker is the marker file found (when Requested is hardened), and
	// MarkerSince its mtime.
	Marker      string
	MarkerSince time.Time
}

// Mismatch reports whether the markers disagree with the recorded phase.
func (p PhaseState) Mismatch() bool { return p.Requested != p.Phase }

// RequestedPhase reads the phase markers: hardened when one exists, else
// setup. It is what the operator asks for, not the phase in force (see
// [PhaseState]).
func RequestedPhase(c *config.Config) (phase, marker string, since time.Time) {
	for _, m := range c.Phase.Markers() {
		if st, err := os.Lstat(m); err == nil {
			return PhaseHardened, m, st.ModTime()
		}
	}
	return PhaseSetup, "", time.Time{}
}

// auditFacts are what the trust decision reads from the audit log, in one
// walk of it.
type auditFacts struct {
	// phase is the phase in force; forged the moves to setup that do not
	// count (for the caller to report).
	phase  PhaseState
	forged []error
	// newest is the baseline of the newest record that wrote one.
	newest uint64
	// kept says a record names a kept checkpoint: from then on the file
	// must exist.
	kept bool
	// moves are the moves between the phases that count, oldest first.
	moves []PhaseMove
}

// PhaseMove is a move between the phases recorded in the audit log: to
// hardened by a seal, reseal, signature or phase record (Signed when the
// record names the key that signed it), to setup only by a phase record
// signed by a pinned key.
type PhaseMove struct {
	Time   time.Time `json:"time"`
	Record int64     `json:"record"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
	User   string    `json:"user,omitempty"`
	Signed bool      `json:"signed"`
}

// readAudit walks the audit log. A record moving the host to setup counts
// only when its signature verifies against vs (none: it never counts:
// nothing loosens the policy without a signature).
func readAudit(db *store.DB, vs note.Verifiers) (auditFacts, error) {
	f := auditFacts{phase: PhaseState{Phase: PhaseSetup, Record: -1}}
	err := db.AuditRecords(func(i int64, raw []byte) error {
		var r AuditRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("audit record %d: %w: %w", i, store.ErrCorrupt, err)
		}
		if i == 0 {
			f.phase.Since = r.Time
		}
		if r.writesBaseline() {
			f.newest = r.Baseline
		}
		f.kept = f.kept || r.Checkpoint != ""
		switch {
		case r.Type == "seal" || r.Type == "reseal" || r.Type == "signature" ||
			r.Type == "phase" && r.Phase == PhaseHardened:
			if f.phase.Phase != PhaseHardened {
				f.moves = append(f.moves, PhaseMove{Time: r.Time, Record: i, From: f.phase.Phase, To: PhaseHardened,
					Reason: r.Reason, User: r.User, Signed: r.SignedBy != ""})
				f.phase = PhaseState{Phase: PhaseHardened, Since: r.Time, Record: i, Reason: r.Reason, User: r.User}
			}
		case r.Type == "phase" && r.Phase == PhaseSetup && r.Signature != "" && f.phase.Phase == PhaseHardened:
			if err := verifyPhaseRecord(db, i, r, vs); err != nil {
				f.forged = append(f.forged, err)
				return nil
			}
			f.moves = append(f.moves, PhaseMove{Time: r.Time, Record: i, From: PhaseHardened, To: PhaseSetup,
				Reason: r.Reason, User: r.User, Signed: true})
			f.phase = PhaseState{Phase: PhaseSetup, Since: r.Time, Record: i, Reason: r.Reason, User: r.User}
		}
		return nil
	})
	return f, err
}

// verifyPhaseRecord checks that record i, a move to setup, carries a
// statement signed by one of vs that describes it and the audit log before
// it exactly.
func verifyPhaseRecord(db *store.DB, i int64, r AuditRecord, vs note.Verifiers) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("audit record %d (phase %s): %w: %s", i, r.Phase, ErrPhaseForged, fmt.Sprintf(format, args...))
	}
	if vs == nil {
		return fail("no key is pinned to verify its signature")
	}
	n, err := note.Open([]byte(r.Signature), vs)
	if err != nil {
		return fail("signature: %v", err)
	}
	st, err := ParsePhaseStatement(n.Text)
	if err != nil {
		return fail("%v", err)
	}
	at, err := db.AuditAt(i)
	if err != nil {
		return fail("the audit log before it: %v", err)
	}
	want := PhaseStatement{Host: r.Host, Phase: r.Phase, AuditSize: i, AuditRoot: at.Hash.String(), Time: r.Time, Reason: r.Reason, User: r.User}
	if i == 0 {
		want.AuditRoot = ""
	}
	if st.String() != want.String() {
		return fail("the signed statement does not describe the record")
	}
	return nil
}

// PhaseStatement is what a signed move between the phases says: the host,
// the phase it moves to, the audit log it follows (so that a signature
// cannot be replayed elsewhere in the log), when, why and who.
type PhaseStatement struct {
	Host      string
	Phase     string
	AuditSize int64
	AuditRoot string
	Time      time.Time
	Reason    string
	User      string
}

// phaseHeader is the first line of every phase statement.
const phaseHeader = "vigil phase statement v1"

// String returns the statement's text, the body of its signed note.
func (s PhaseStatement) String() string {
	return fmt.Sprintf("%s\nhost %s\nphase %s\naudit %d %s\ntime %s\nreason %s\nuser %s\n", phaseHeader,
		strconv.QuoteToASCII(s.Host), s.Phase, s.AuditSize, s.AuditRoot, s.Time.UTC().Format(time.RFC3339Nano),
		strconv.QuoteToASCII(s.Reason), strconv.QuoteToASCII(s.User))
}

// IsPhaseStatement reports whether text is a phase statement.
func IsPhaseStatement(text []byte) bool {
	return strings.HasPrefix(string(text), phaseHeader+"\n")
}

// ParsePhaseStatement parses a phase statement's text, exactly as
// [PhaseStatement.String] writes it.
func ParsePhaseStatement(text string) (PhaseStatement, error) {
	var s PhaseStatement
	bad := func(what string) (PhaseStatement, error) {
		return PhaseStatement{}, fmt.Errorf("not a vigil phase statement: %s", what)
	}
	lines := strings.Split(text, "\n")
	if len(lines) != 8 || lines[0] != phaseHeader || lines[7] != "" {
		return bad("layout")
	}
	field := func(i int, name string) (string, bool) { return strings.CutPrefix(lines[i], name+" ") }
	var ok bool
	var v string
	var err error
	if v, ok = field(1, "host"); !ok {
		return bad("host")
	}
	if s.Host, err = strconv.Unquote(v); err != nil {
		return bad("host")
	}
	if s.Phase, ok = field(2, "phase"); !ok || s.Phase != PhaseSetup && s.Phase != PhaseHardened {
		return bad("phase")
	}
	if v, ok = field(3, "audit"); !ok {
		return bad("audit")
	}
	size, root, _ := strings.Cut(v, " ")
	if s.AuditSize, err = strconv.ParseInt(size, 10, 64); err != nil || s.AuditSize < 0 {
		return bad("audit")
	}
	s.AuditRoot = root
	if v, ok = field(4, "time"); !ok {
		return bad("time")
	}
	if s.Time, err = time.Parse(time.RFC3339Nano, v); err != nil {
		return bad("time")
	}
	if v, ok = field(5, "reason"); !ok {
		return bad("reason")
	}
	if s.Reason, err = strconv.Unquote(v); err != nil {
		return bad("reason")
	}
	if v, ok = field(6, "user"); !ok {
		return bad("user")
	}
	if s.User, err = strconv.Unquote(v); err != nil {
		return bad("user")
	}
	if s.String() != text {
		return bad("not in canonical form")
	}
	return s, nil
}
