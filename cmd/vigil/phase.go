package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/store"
)

const phaseAbout = `Show the host's security phase: the one in force, which is what the audit
log records (a seal or reseal moves the host to the hardened phase), since
when, who and why, and the phase the marker files ask for
(phase.hardened_markers, by default /etc/hypervisor/.phase2_hardened). A
marker that disagrees with the recorded phase changes nothing: check exits
8 (phase_marker_mismatch) and the watch raises a critical event. With
--json, also the operations the phase allows (allowed_operations) and every
move between the phases that counts (history: time, record, from, to,
reason, user, signed).

'vigil phase setup --key FILE --reason TEXT' leaves the hardened phase: it
appends a record signed by the key (the pinned one: trust.pubkey or
--pubkey verifies it) to the audit log, with the reason and the login name.
With the key kept off the host, the two-step form: '--statement-out FILE'
writes the statement, 'vigil sign --key KEY FILE' signs it elsewhere, and
'--signature FILE' records it (refused if the audit log grew meanwhile).
Moving to the hardened phase is 'vigil seal'.`

func runPhase(ctx context.Context, e *env, inv *invocation) int {
	switch {
	case len(inv.args) == 0:
		return e.showPhase(inv)
	case len(inv.args) == 1 && inv.args[0] == engine.PhaseSetup:
		return e.phaseSetup(inv)
	case len(inv.args) == 1 && inv.args[0] == engine.PhaseHardened:
		return e.fail(&usageError{msg: "the hardened phase is entered by sealing the host: vigil seal --key FILE", cmd: inv.cmd})
	}
	return e.fail(&usageError{msg: "phase takes no argument (show it) or 'setup' (leave the hardened phase)", cmd: inv.cmd})
}

// showPhase prints the phase in force and the requested one.
func (e *env) showPhase(inv *invocation) int {
	eng, db, v, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	ps := v.Phase
	out := map[string]any{"phase": ps.Phase, "requested": ps.Requested, "markers": eng.Config().Phase.Markers(), "sealed": v.Sealed}
	if !ps.Since.IsZero() {
		out["since"] = ps.Since.UTC()
	}
	if ps.Reason != "" || ps.User != "" {
		out["reason"], out["user"] = ps.Reason, ps.User
	}
	if ps.Marker != "" {
		out["marker"] = ps.Marker
	}
	if cur, err := db.Current(); err == nil && len(cur.Info().Signature) > 0 {
		out["sealed_root"], out["sealed_baseline"], out["signed_by"] = cur.Info().Root.String(), cur.Info().ID, cur.Info().SignedBy
	}
	var findings []string
	for _, f := range v.Findings {
		findings = append(findings, f.Action)
	}
	out["findings"] = findings
	out["allowed_operations"] = engine.AllowedOperations(ps.Phase)
	out["history"] = v.Moves
	code := exitOK
	if v.Critical() {
		code = exitTampered
	}
	if inv.bool("json") {
		if c := e.printJSON(out); c != exitOK {
			return c
		}
		return code
	}
	fmt.Fprintf(e.stdout, "phase      %s (recorded in the audit log)\n", ps.Phase)
	if !ps.Since.IsZero() {
		fmt.Fprintf(e.stdout, "since      %s", ps.Since.Local().Format(time.RFC3339))
		if ps.User != "" {
			fmt.Fprintf(e.stdout, " by %s", ps.User)
		}
		if ps.Reason != "" {
			fmt.Fprintf(e.stdout, ": %s", quote(ps.Reason))
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "requested  %s", ps.Requested)
	if ps.Marker != "" {
		fmt.Fprintf(e.stdout, " (marker %s)", quote(ps.Marker))
	}
	fmt.Fprintln(e.stdout)
	if r, ok := out["sealed_root"]; ok {
		fmt.Fprintf(e.stdout, "sealed baseline %d, root %s, signed by %s\n", out["sealed_baseline"], r, out["signed_by"])
	} else {
		fmt.Fprintln(e.stdout, "sealed no baseline yet")
	}
	return code
}

// phaseSetup records a signed move back to the setup phase.
func (e *env) phaseSetup(inv *invocation) int {
	key, out, sig, reason := inv.str("key"), inv.str("statement-out"), inv.str("signature"), inv.str("reason")
	n := 0
	for _, s := range []string{key, out, sig} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return e.fail(&usageError{msg: "phase setup needs one of --key FILE, --statement-out FILE or --signature FILE", cmd: inv.cmd})
	}
	if sig == "" && reason == "" {
		return e.fail(&usageError{msg: "phase setup needs --reason TEXT: why the host leaves the hardened phase", cmd: inv.cmd})
	}
	eng, err := e.engine(inv)
	if err != nil {
		return e.fail(err)
	}
	vs, _ := eng.Pinned()
	if vs == nil {
		return e.fail(&usageError{msg: "phase setup needs the pinned key to verify its signature: trust.pubkey or --pubkey FILE", cmd: inv.cmd})
	}
	db, err := e.openDB(eng, out != "", false)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	v, err := e.trust(eng, db)
	if err != nil {
		return e.fail(err)
	}
	if v.Phase.Phase != engine.PhaseHardened {
		return e.fail(&usageError{msg: "the audit log records the setup phase already: nothing to leave", cmd: inv.cmd})
	}
	t, err := db.Audit()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	st := engine.PhaseStatement{Host: eng.Host(), Phase: engine.PhaseSetup, AuditSize: t.N, Time: time.Now().UTC(), Reason: reason, User: who()}
	if t.N > 0 {
		st.AuditRoot = t.Hash.String()
	}
	var signed []byte
	switch {
	case out != "":
		if err := writeNew(out, []byte(st.String()), 0o644); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "phase statement written to %s: sign it with 'vigil sign --key KEY %s' and record it with 'vigil phase setup --signature FILE'\n", out, out)
		return exitOK
	case key != "":
		signer, err := readSigner(key)
		if err != nil {
			return e.fail(err)
		}
		if signed, err = note.Sign(&note.Note{Text: st.String()}, signer); err != nil {
			return e.fail(err)
		}
	default:
		if signed, err = os.ReadFile(sig); err != nil {
			return e.fail(err)
		}
	}
	return e.recordPhase(eng, db, signed, t)
}

// recordPhase verifies a signed phase statement against the pinned key and
// the audit log as it is, and appends its record.
func (e *env) recordPhase(eng *engine.Engine, db *store.DB, signed []byte, t store.AuditTree) int {
	vs, _ := eng.Pinned()
	n, err := engine.OpenNote("the phase statement", signed, vs)
	if err != nil {
		return e.fail(err)
	}
	st, err := engine.ParsePhaseStatement(n.Text)
	if err != nil {
		return e.fail(&usageError{msg: err.Error()})
	}
	root := ""
	if t.N > 0 {
		root = t.Hash.String()
	}
	if st.AuditSize != t.N || st.AuditRoot != root || st.Host != eng.Host() {
		return e.fail(fmt.Errorf("the phase statement was made for audit log size %d of host %q: %w", st.AuditSize, st.Host, errStale))
	}
	rec, err := json.Marshal(engine.AuditRecord{Time: st.Time, Type: "phase", Phase: st.Phase, Reason: st.Reason,
		UID: int64(os.Getuid()), User: st.User, Host: st.Host, SignedBy: n.Sigs[0].Name, Signature: string(signed),
		Checkpoint: eng.KeptCheckpoint()})
	if err != nil {
		return e.fail(err)
	}
	if _, err := db.AppendAudit(rec); err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	cp, err := e.keepCheckpoint(eng, db, nil)
	if err != nil {
		return e.fail(err)
	}
	e.log.Warn().Str("event", "phase_changed").Str("phase", st.Phase).Str("user", st.User).Str("reason", st.Reason).
		Str("signed_by", n.Sigs[0].Name).Msg("the host left the hardened phase: recorded in the audit log")
	fmt.Fprintf(e.stdout, "phase setup recorded (signed by %s); remove the hardened-phase marker now\naudit log checkpoint (kept in %s):\n%s", n.Sigs[0].Name, eng.KeptCheckpoint(), cp)
	return exitOK
}
