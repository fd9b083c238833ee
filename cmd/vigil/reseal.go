package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/store"
)

const resealAbout = `Accept planned changes in the hardened phase (a package update, a system
rebuild): report what is accepted, as update does and with its flags
(PATHs, --entry, --from REPORT), sign the new baseline's statement and
record old root, new root, reason and who in the audit log, then print the
audit log's signed checkpoint. --reason is required.

To keep the signer key off the host, reseal in two steps: --statement-out
FILE instead of --key writes the new baseline unsigned and its statement
to FILE (for 'vigil sign' elsewhere); a verifier key must be pinned
(trust.pubkey or --pubkey). Until the signature is attached the current
baseline is not sealed: check refuses to compare with it (exit 8, "not
signed"), update stays refused, and a further reseal is refused too.
--signature FILE attaches the signed statement to the current baseline,
verified with the pinned key, and prints the audit log's checkpoint
(unsigned: the key is not on the host). A reseal is refused in the setup
phase, where update accepts changes.`

func runReseal(ctx context.Context, e *env, inv *invocation) int {
	if sig := inv.str("signature"); sig != "" {
		return e.resealSignature(inv, sig)
	}
	key, out := inv.str("key"), inv.str("statement-out")
	if (key == "") == (out == "") {
		return e.fail(&usageError{msg: "reseal needs --key FILE, or --statement-out FILE to sign elsewhere", cmd: inv.cmd})
	}
	if inv.str("reason") == "" {
		return e.fail(&usageError{msg: "reseal needs --reason TEXT: what is being accepted, and why", cmd: inv.cmd})
	}
	if out == "" {
		return e.compare(ctx, inv, (*engine.Engine).Reseal)
	}
	// The statement's file is made first, so that a reseal that cannot
	// write it writes no baseline; it is removed again unless a baseline
	// was written.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return e.fail(&usageError{msg: out + " exists already: --statement-out never overwrites a file", cmd: inv.cmd})
	}
	if err != nil {
		return e.fail(err)
	}
	written := false
	defer func() {
		f.Close()
		if !written {
			os.Remove(out)
		}
	}()
	return e.compare(ctx, inv, func(eng *engine.Engine, ctx context.Context, db *store.DB, o engine.Request, r engine.Reporter) (engine.Result, error) {
		res, err := eng.Reseal(ctx, db, o, r)
		if err != nil || !res.Written {
			return res, err
		}
		written = true
		_, err = f.WriteString(engine.Statement(res.Baseline))
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			return res, fmt.Errorf("baseline %d was written unsigned, but its statement could not be saved: %w", res.Baseline.ID, err)
		}
		return res, nil
	})
}

// resealSigner returns the signer of a reseal: --key's, or none with
// --statement-out, which needs a pinned verifier key: without one nothing
// would tell an unsigned baseline from a sealed one.
func (e *env) resealSigner(inv *invocation, eng *engine.Engine) (note.Signer, error) {
	if inv.str("key") != "" {
		return readSigner(inv.str("key"))
	}
	if vs, _ := eng.Pinned(); vs == nil {
		return nil, &usageError{msg: "reseal --statement-out needs the verifier key pinned (trust.pubkey, or --pubkey FILE): until the signature is attached, check must see the baseline as not signed", cmd: inv.cmd}
	}
	return nil, nil
}

// resealed finishes a reseal that wrote baseline in: with a signer it
// keeps, signs and prints the audit log's checkpoint; without, it keeps the
// checkpoint unsigned (as seal --statement-out does) and says where the
// statement to sign is.
func (e *env) resealed(inv *invocation, eng *engine.Engine, db *store.DB, signer note.Signer, in store.Info) int {
	if signer != nil {
		return e.signCheckpoint(eng, db, signer, in)
	}
	if _, err := e.keepCheckpoint(eng, db, nil); err != nil {
		return e.fail(err)
	}
	out := inv.str("statement-out")
	fmt.Fprintf(e.stdout, "baseline %d written unsigned; its statement is in %s: sign it with 'vigil sign --key KEY %s' and attach it with 'vigil reseal --signature FILE'. Until then the baseline is not sealed: check exits 8 (not signed).\n",
		in.ID, out, out)
	return exitOK
}

// resealSignature attaches a signed statement to the current baseline, as
// seal --signature does (which prints the audit log's checkpoint).
func (e *env) resealSignature(inv *invocation, sig string) int {
	for _, f := range []string{"key", "statement-out", "from", "reason"} {
		if inv.str(f) != "" {
			return e.fail(&usageError{msg: "--signature attaches a signed statement: it takes no --" + f, cmd: inv.cmd})
		}
	}
	if inv.bool("entry") {
		return e.fail(&usageError{msg: "--signature attaches a signed statement: it takes no --entry", cmd: inv.cmd})
	}
	return e.attachSignature(inv, sig)
}
