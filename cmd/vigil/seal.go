package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/store"
)

const sealAbout = `Seal the host's trusted baseline at the move to the hardened phase: check
that the configuration is valid, the database writable, the roots present
and the key readable (each failure refused with its own exit code), take a
whole new baseline rereading every file, sign its statement (root, roots,
configuration digest, counts, host, phase, its place in the history and in
the audit log) and record it in the audit log. It prints the audit log's
signed checkpoint: keep it outside the host, or let trust.checkpoint keep
it. With --statement-out FILE instead of --key, the baseline is written
unsigned and its statement saved for 'vigil sign' elsewhere; --signature
FILE attaches the signed statement to the current baseline.`

func runSeal(ctx context.Context, e *env, inv *invocation) int {
	if sig := inv.str("signature"); sig != "" {
		return e.attachSignature(inv, sig)
	}
	key, out := inv.str("key"), inv.str("statement-out")
	if (key == "") == (out == "") {
		return e.fail(&usageError{msg: "seal needs --key FILE, or --statement-out FILE to sign elsewhere", cmd: inv.cmd})
	}
	var signer note.Signer
	var err error
	if key != "" {
		if signer, err = readSigner(key); err != nil {
			return e.fail(err)
		}
	}
	pb, err := e.prepareBaseline(inv, nil)
	if err != nil {
		return e.fail(err)
	}
	defer pb.db.Close()
	o, db := pb.o, pb.db
	if pb.existing && pb.verdict.Phase.Phase == engine.PhaseHardened {
		if out != "" {
			return e.fail(fmt.Errorf("seal --statement-out: %w: it would replace the sealed baseline with an unsigned one; accept planned changes with 'vigil reseal --statement-out FILE --reason TEXT'", engine.ErrPhaseRefused))
		}
		if code, ok := e.sealPending(ctx, inv, pb); !ok {
			return code
		}
	}
	o.Signer = signer
	res, err := pb.eng.Seal(ctx, db, o, &reporter{e: e, missing: true})
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	in := res.Baseline
	e.log.Info().Str("event", "baseline_sealed").Uint64("baseline", in.ID).Str("root", in.Root.String()).
		Str("phase", in.Phase).Str("user", o.User).Str("signed_by", in.SignedBy).Msg("baseline sealed")
	if out != "" {
		if _, err := e.keepCheckpoint(pb.eng, db, nil); err != nil {
			return e.fail(err)
		}
		if err := writeNew(out, []byte(engine.Statement(in)), 0o644); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "baseline %d written unsigned; its statement is in %s: sign it with 'vigil sign --key KEY %s' and attach it with 'vigil seal --signature FILE'\n", in.ID, out, out)
		return exitOK
	}
	return e.signCheckpoint(pb.eng, db, signer, in)
}

// sealPending runs before a seal of a host already sealed in the hardened
// phase: it checks the host against the sealed baseline and, when changes
// are pending, refuses unless --reason says why they are accepted; it
// prints what the seal accepts, as reseal does. ok false: stop with code.
func (e *env) sealPending(ctx context.Context, inv *invocation, pb prepared) (code int, ok bool) {
	if pb.verdict.Untrusted != nil {
		return e.fail(dbError(pb.db.Path(), pb.verdict.Untrusted)), false
	}
	w := report.New(e.stdout, report.Options{Host: pb.eng.Host(), Phase: engine.PhaseHardened})
	r := &reporter{e: e, w: w}
	res, err := pb.eng.Check(ctx, pb.db, engine.Request{Phase: engine.PhaseHardened}, r)
	if err != nil {
		return e.fail(dbError(pb.db.Path(), err)), false
	}
	if _, err := e.reportPosture(w, res, pb.eng.Host()); err != nil { // pending posture changes count too
		return e.fail(err), false
	}
	n := r.n + int64(len(res.Posture))
	if n == 0 {
		return 0, true
	}
	if inv.str("reason") == "" {
		return e.fail(&usageError{msg: fmt.Sprintf("the host is sealed and %d changes are pending (listed above): a seal would accept them; review them and give --reason TEXT, or accept planned changes with 'vigil reseal'", n), cmd: inv.cmd}), false
	}
	e.log.Warn().Int64("changes", n).Str("reason", inv.str("reason")).Msg("the seal accepts the changes listed above")
	return 0, true
}

// signCheckpoint keeps the audit log's checkpoint, signed (also in the
// database), and prints it.
func (e *env) signCheckpoint(eng *engine.Engine, db *store.DB, signer note.Signer, in store.Info) int {
	signed, err := e.keepCheckpoint(eng, db, signer)
	if err != nil {
		return e.fail(err)
	}
	if e.jsonLog {
		// stdout holds the NDJSON report: the checkpoint goes with the log.
		e.log.Info().Str("event", "checkpoint").Uint64("baseline", in.ID).Str("root", in.Root.String()).
			Str("signed_by", in.SignedBy).Str("kept", eng.KeptCheckpoint()).Str("checkpoint", string(signed)).Msg("audit log checkpoint")
		return exitOK
	}
	fmt.Fprintf(e.stdout, "baseline %d sealed: root %s, signed by %s\naudit log checkpoint (kept in %s; keep a copy outside this host):\n%s", in.ID, in.Root, in.SignedBy, eng.KeptCheckpoint(), signed)
	return exitOK
}

// attachSignature attaches a signed statement to the current baseline.
func (e *env) attachSignature(inv *invocation, sigPath string) int {
	if len(inv.args) > 0 {
		return e.fail(&usageError{msg: "--signature takes no PATHs", cmd: inv.cmd})
	}
	eng, err := e.engine(inv)
	if err != nil {
		return e.fail(err)
	}
	vs, _ := eng.Pinned()
	if vs == nil {
		return e.fail(&usageError{msg: "--signature needs the verifier key: --pubkey FILE or trust.pubkey", cmd: inv.cmd})
	}
	db, err := e.openDB(eng, false, false)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return e.fail(err)
	}
	cur, err := db.Current()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	n, err := engine.OpenNote(sigPath, sig, vs)
	if err != nil {
		return e.fail(err)
	}
	in := cur.Info()
	if n.Text != engine.Statement(in) {
		return e.fail(fmt.Errorf("%s: %w: it signs another statement than baseline %d's", sigPath, store.ErrTampered, in.ID))
	}
	rec, _ := json.Marshal(engine.AuditRecord{Time: time.Now().UTC(), Type: "signature", Baseline: in.ID, Root: in.Root.String(),
		UID: int64(os.Getuid()), User: who(), Host: in.Host, SignedBy: n.Sigs[0].Name, Checkpoint: eng.KeptCheckpoint()})
	if err := db.SetSignature(in.ID, sig, n.Sigs[0].Name, rec); err != nil {
		return e.fail(err)
	}
	cp, err := e.keepCheckpoint(eng, db, nil)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "baseline %d: signature by %s attached\naudit log checkpoint (kept in %s; sign it and keep a copy outside this host):\n%s", in.ID, n.Sigs[0].Name, eng.KeptCheckpoint(), cp)
	return exitOK
}
