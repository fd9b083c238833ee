package main

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/nix"
	"vigil/internal/nixtree"
	"vigil/internal/report"
	"vigil/store"
)

// nixProofAbout is what proof's and verify-proof's help say of --nix.
const nixProofAbout = `

With --nix, PATH is a store path (/nix/store/HASH-NAME) and the proof is of
its record in the baseline's Nix tree (vigil nix snapshot, then update or
seal): the same JSON object with "tree": "nix", "record" (the canonical
record: NAR hash, size, registration time, ultimate, content address,
signatures, references, stat digest, whether the sealed system closure
holds it) and "root" the Nix tree's root, which the statement's "nix"
line signs. verify-proof checks it the same way; with --against
LOCALPATH it serializes LOCALPATH as a NAR (symlinks recorded, never
followed) and compares its SHA-256 and size with the record's.`

// proveNix is proof --nix: the proof of a store path's record.
func (e *env) proveNix(b *store.Baseline, arg string) (*engine.ProofFile, error) {
	p := path.Clean(arg)
	if dir, name := path.Split(p); dir != nix.StoreDir+"/" || name == "" {
		return nil, &usageError{msg: fmt.Sprintf("proof --nix: %q is not a store path (%s/HASH-NAME)", arg, nix.StoreDir)}
	}
	return engine.ProveNix(b, p)
}

// printNixProof prints what verify-proof found of a Nix record's proof
// and, with local, whether local's NAR serialization is the record's.
func (e *env) printNixProof(vp *engine.VerifiedProof, local string) int {
	d := vp.Nix
	fmt.Fprintf(e.stdout, "valid: the record of %s is in the Nix tree of baseline %d of host %s (nix root %x), signed by %s\n",
		quote(d.Path), vp.File.Baseline, quote(vp.File.Host), vp.File.Root[:8], vp.SignedBy)
	r := d.Record
	if !d.Valid {
		fmt.Fprintf(e.stdout, "attested: not a valid path (only the system closure names it), closure=%t\n", d.Closure)
	} else {
		fmt.Fprintf(e.stdout, "attested: hash=%s nar_size=%d registration_time=%d ultimate=%t signatures=%d references=%d closure=%t\n",
			r.Hash, r.NARSize, r.RegistrationTime, r.Ultimate, len(r.Sigs), len(r.Refs), d.Closure)
	}
	if local == "" {
		return exitOK
	}
	want, err := nix.ParseSHA256(r.Hash)
	if err != nil || !d.Valid {
		return e.fail(fmt.Errorf("%s: the proven record holds no NAR hash to compare with", d.Path))
	}
	got, err := nix.HashPath(local)
	if err != nil {
		return e.fail(err)
	}
	if got.SHA256 != want || got.NARSize != r.NARSize {
		fmt.Fprintf(e.stdout, "%s does NOT match the sealed record: NAR %s size %d, sealed %s size %d\n",
			quote(local), got, got.NARSize, r.Hash, r.NARSize)
		return exitChanged
	}
	fmt.Fprintf(e.stdout, "%s matches the sealed record: NAR hash and size\n", quote(local))
	return exitOK
}

// reportNixTree reports the store paths whose records differ between the
// Nix trees of the baselines diff compares: one event each (event.action
// nix_record_added, nix_record_removed or nix_record_changed, file.path
// the store path), "~ nix PATH: DETAIL", and returns their exit bits.
func (e *env) reportNixTree(w *report.Writer, res engine.Result, host string) (int, error) {
	code := 0
	for _, c := range res.Nix {
		mark, bit := "~", exitChanged
		switch c.Action {
		case nixtree.Added:
			mark, bit = "+", exitAdded
		case nixtree.Removed:
			mark, bit = "-", exitRemoved
		}
		code |= bit
		line := mark + " nix " + quote(c.Path) + ": " + c.Detail
		ev := alerts.Nix(alerts.NixFinding{Action: "nix_record_" + string(c.Action), Severity: "medium", Path: c.Path, Message: line},
			host, time.Now())
		if err := w.Event(ev, line); err != nil {
			return code, err
		}
	}
	return code, nil
}

// verifyNixTrees checks the Nix tree of each baseline of all (vigil
// verify).
func verifyNixTrees(db *store.DB, all []store.Info) error {
	for _, in := range all {
		if in.Nix == nil {
			continue
		}
		b, err := db.Resolve(strconv.FormatUint(in.ID, 10))
		if err == nil {
			err = engine.VerifyNixTree(b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
