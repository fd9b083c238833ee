package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/store"
)

const keygenAbout = `Make a signing key pair: DIR/vigil.key (the signer key, mode 0600) and
DIR/vigil.pub (the verifier key, one line), both in the signed-note format
of golang.org/x/mod/sumdb/note (Ed25519). NAME names the key in every
signature. Refuses to overwrite either file. Keep vigil.key off the host
(see 'seal --statement-out' and 'sign'); pin vigil.pub with --pubkey or
trust.pubkey.`

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

const resealAbout = `Accept planned changes in the hardened phase (a package update, a system
rebuild): report what is accepted, as update does, sign the new baseline's
statement and record old root, new root, reason and who in the audit log.
--reason is required.`

const signAbout = `Sign a statement written by 'vigil seal --statement-out' with the signer key
(on another machine: the key need not live on the host); the signed note
goes to standard output, for 'vigil seal --signature FILE'.`

const phaseAbout = `Show the host's security phase: hardened when a marker file exists
(phase.hardened_markers, by default /etc/hypervisor/.phase2_hardened),
otherwise setup; since when, and the sealed root.`

const auditAbout = `Print the audit log, oldest first, one record per line (JSON with --json),
after verifying its hashes; the log's size and tree hash come last.`

// readSigner reads a signer key file.
func readSigner(path string) (note.Signer, error) {
	if path == "" {
		return nil, &usageError{msg: "no --key given"}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, errKey, err)
	}
	return s, nil
}

// readVerifier reads a verifier key file: --pubkey, else trust.pubkey; nil
// if neither names one.
func readVerifier(flag string, cfg *config.Config) (note.Verifier, string, error) {
	path := flag
	if path == "" {
		path = cfg.Trust.Pubkey
	}
	if path == "" {
		return nil, "", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, path, fmt.Errorf("%s: %w: %w", path, errKey, err)
	}
	return v, path, nil
}

// errKey means a key file does not hold a key.
var errKey = errors.New("not a vigil key")

func runKeygen(ctx context.Context, e *env, inv *invocation) int {
	name, dir := inv.str("name"), inv.str("out")
	if name == "" || dir == "" || len(inv.args) > 0 {
		return e.fail(&usageError{msg: "keygen needs --name NAME and --out DIR", cmd: inv.cmd})
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return e.fail(&usageError{msg: fmt.Sprintf("key name %q: %v", name, err), cmd: inv.cmd})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return e.fail(err)
	}
	keyPath, pubPath := filepath.Join(dir, "vigil.key"), filepath.Join(dir, "vigil.pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return e.fail(&usageError{msg: p + " exists already: keygen never overwrites a key", cmd: inv.cmd})
		}
	}
	if err := writeNew(keyPath, []byte(skey+"\n"), 0o600); err != nil {
		return e.fail(err)
	}
	if err := writeNew(pubPath, []byte(vkey+"\n"), 0o644); err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "signer key   %s (keep it secret, ideally off this host)\nverifier key %s\n%s\n", keyPath, pubPath, vkey)
	}
	return exitOK
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Sync(), f.Close())
}

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
	o, db, err := e.prepareBaseline(inv, nil)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	cfg := o.Config
	o.Signer = signer
	o.Error = func(p string, err error) error {
		e.log.Warn().Str("path", quote(p)).Msg(errorText(p, err))
		return nil
	}
	res, err := engine.Seal(ctx, db, o)
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	in := res.Baseline
	e.log.Info().Str("event", "baseline_sealed").Uint64("baseline", in.ID).Str("root", in.Root.String()).
		Str("phase", in.Phase).Str("user", o.User).Str("signed_by", in.SignedBy).Msg("baseline sealed")
	if out != "" {
		if err := writeNew(out, []byte(engine.Statement(in)), 0o644); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "baseline %d written unsigned; its statement is in %s: sign it with 'vigil sign --key KEY %s' and attach it with 'vigil seal --signature FILE'\n", in.ID, out, out)
		return exitOK
	}
	return e.signCheckpoint(db, cfg, signer, in)
}

// signCheckpoint signs the audit log's checkpoint, stores it and prints it
// (and keeps it in trust.checkpoint when that is set).
func (e *env) signCheckpoint(db *store.DB, cfg *config.Config, signer note.Signer, in store.Info) int {
	t, err := db.Audit()
	if err != nil {
		return e.fail(err)
	}
	cp := tlogfmt.Checkpoint{Origin: "vigil/" + in.Host, Size: uint64(t.N), Hash: t.Hash[:]}
	signed, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, signer)
	if err != nil {
		return e.fail(err)
	}
	if err := db.SetCheckpoint(signed); err != nil {
		return e.fail(err)
	}
	if cfg.Trust.Checkpoint != "" {
		if err := keepCheckpoint(cfg.Trust.Checkpoint, signed); err != nil {
			return e.fail(err)
		}
	}
	fmt.Fprintf(e.stdout, "baseline %d sealed: root %s, signed by %s\naudit log checkpoint (keep it outside this host):\n%s", in.ID, in.Root, in.SignedBy, signed)
	return exitOK
}

// keepCheckpoint replaces the checkpoint file atomically.
func keepCheckpoint(path string, signed []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// attachSignature attaches a signed statement to the current baseline.
func (e *env) attachSignature(inv *invocation, sigPath string) int {
	cfg, db, err := e.database(inv, false, 0)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	v, _, err := readVerifier(inv.str("pubkey"), cfg)
	if err != nil {
		return e.fail(err)
	}
	if v == nil {
		return e.fail(&usageError{msg: "--signature needs the verifier key: --pubkey FILE or trust.pubkey", cmd: inv.cmd})
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return e.fail(err)
	}
	cur, err := db.Current()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	n, err := note.Open(sig, note.VerifierList(v))
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w: %w", sigPath, store.ErrTampered, err))
	}
	in := cur.Info()
	if n.Text != engine.Statement(in) {
		return e.fail(fmt.Errorf("%s: %w: it signs another statement than baseline %d's", sigPath, store.ErrTampered, in.ID))
	}
	rec, _ := json.Marshal(engine.AuditRecord{Time: time.Now().UTC(), Type: "signature", Baseline: in.ID, Root: in.Root.String(),
		UID: int64(os.Getuid()), User: who(), Host: in.Host, SignedBy: v.Name()})
	if err := db.SetSignature(in.ID, sig, v.Name(), rec); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "baseline %d: signature by %s attached\n", in.ID, v.Name())
	return exitOK
}

func runSign(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 {
		return e.fail(&usageError{msg: "sign needs the statement file", cmd: inv.cmd})
	}
	signer, err := readSigner(inv.str("key"))
	if err != nil {
		return e.fail(err)
	}
	text, err := os.ReadFile(inv.args[0])
	if err != nil {
		return e.fail(err)
	}
	if !bytes.HasPrefix(text, []byte("vigil baseline statement ")) {
		return e.fail(&usageError{msg: inv.args[0] + " is not a vigil baseline statement", cmd: inv.cmd})
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return e.fail(err)
	}
	_, err = e.stdout.Write(signed)
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}

// checkSeal verifies the current baseline's seal when a key is pinned; it
// returns nil when none is, and, for an update, when the current baseline
// is an unsigned one of the setup phase (updating it is how that phase
// works; a signed one must verify before anything is built on it). A checkpoint kept outside the database
// (trust.checkpoint) must be a prefix of the audit log, and is moved
// forward to the database's newer one.
func (e *env) checkSeal(db *store.DB, cfg *config.Config, flag string, update bool) error {
	v, path, err := readVerifier(flag, cfg)
	if err != nil || v == nil {
		return err
	}
	cur, err := db.Current()
	if err != nil {
		return err
	}
	if update && len(cur.Info().Signature) == 0 && engine.CurrentPhase(cfg).Phase == engine.PhaseSetup {
		return nil
	}
	if _, err := db.VerifyAudit(); err != nil {
		return err
	}
	vs := note.VerifierList(v)
	if err := engine.VerifySeals(db, vs); err != nil {
		return fmt.Errorf("%w (key %s)", err, path)
	}
	if cfg.Trust.Checkpoint == "" {
		return nil
	}
	return e.checkCheckpoint(db, cfg.Trust.Checkpoint, vs)
}

// checkCheckpoint checks the kept checkpoint against the audit log.
func (e *env) checkCheckpoint(db *store.DB, path string, vs note.Verifiers) error {
	kept, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		cp, err := openCheckpoint(kept, vs)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", path, store.ErrTampered, err)
		}
		at, err := db.AuditAt(int64(cp.Size))
		if err != nil || !bytes.Equal(at.Hash[:], cp.Hash) {
			return fmt.Errorf("%w: the audit log does not extend the checkpoint kept in %s (size %d): the database was put back or its log rewritten", store.ErrTampered, path, cp.Size)
		}
	}
	newer, err := db.Checkpoint()
	if err != nil || newer == nil || bytes.Equal(newer, kept) {
		return err
	}
	cp, err := openCheckpoint(newer, vs)
	if err != nil {
		return fmt.Errorf("the database's checkpoint: %w: %w", store.ErrTampered, err)
	}
	if at, err := db.AuditAt(int64(cp.Size)); err != nil || !bytes.Equal(at.Hash[:], cp.Hash) {
		return fmt.Errorf("%w: the database's checkpoint does not match its audit log", store.ErrTampered)
	}
	return keepCheckpoint(path, newer)
}

func openCheckpoint(signed []byte, vs note.Verifiers) (tlogfmt.Checkpoint, error) {
	var cp tlogfmt.Checkpoint
	n, err := note.Open(signed, vs)
	if err != nil {
		return cp, err
	}
	_, err = cp.Unmarshal([]byte(n.Text))
	return cp, err
}

func runPhase(ctx context.Context, e *env, inv *invocation) int {
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	ps := engine.CurrentPhase(cfg)
	out := map[string]any{"phase": ps.Phase, "markers": cfg.Phase.Markers()}
	if ps.Marker != "" {
		out["marker"], out["since"] = ps.Marker, ps.Since.UTC()
	}
	// A move between the phases is recorded in the audit log, where the
	// database can be written (else said).
	if db, err := e.open(cfg, false, false); err == nil {
		if cur, err := db.Current(); err == nil && len(cur.Info().Signature) > 0 {
			out["sealed_root"], out["sealed_baseline"], out["signed_by"] = cur.Info().Root.String(), cur.Info().ID, cur.Info().SignedBy
		}
		if rec, err := engine.RecordPhase(db, ps, who(), hostname()); err != nil {
			e.log.Warn().Err(err).Msg("the phase change could not be recorded in the audit log")
		} else if rec {
			e.log.Warn().Str("phase", ps.Phase).Msg("the host changed phase: recorded in the audit log")
		}
		db.Close()
	}
	if inv.bool("json") {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.stdout, "phase  %s\n", ps.Phase)
	if ps.Marker != "" {
		fmt.Fprintf(e.stdout, "since  %s (%s)\n", ps.Since.Local().Format(time.RFC3339), quote(ps.Marker))
	}
	if r, ok := out["sealed_root"]; ok {
		fmt.Fprintf(e.stdout, "sealed baseline %d, root %s, signed by %s\n", out["sealed_baseline"], r, out["signed_by"])
	} else {
		fmt.Fprintln(e.stdout, "sealed no baseline yet")
	}
	return exitOK
}

func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func runAudit(ctx context.Context, e *env, inv *invocation) int {
	_, db, err := e.database(inv, true, 0)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	t, err := db.VerifyAudit()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	err = db.AuditRecords(func(i int64, rec []byte) error {
		if inv.bool("json") {
			_, err := fmt.Fprintf(e.stdout, "%s\n", rec)
			return err
		}
		var r engine.AuditRecord
		if err := json.Unmarshal(rec, &r); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%4d  %s  %-9s baseline %-4d %.16s", i, r.Time.Local().Format(time.RFC3339), r.Type, r.Baseline, r.Root)
		if r.Reason != "" {
			fmt.Fprintf(e.stdout, "  %s", quote(r.Reason))
		}
		fmt.Fprintf(e.stdout, "  %s\n", r.User)
		return nil
	})
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	if !inv.bool("json") {
		fmt.Fprintf(e.stdout, "audit log: %d records, tree hash %s\n", t.N, t.Hash)
	}
	return exitOK
}

// warnPhase reports what the phase makes an alert by itself: a hardened
// host whose baseline is not sealed, and a host left in the setup phase
// longer than phase.setup_max_age.
func (e *env) warnPhase(db *store.DB, cfg *config.Config, phase string) {
	cur, err := db.Current()
	if err != nil {
		return
	}
	switch {
	case phase == engine.PhaseHardened && len(cur.Info().Signature) == 0:
		e.log.Error().Str("event", "hardened_unsealed").Uint64("baseline", cur.Info().ID).
			Msg("the host is in the hardened phase but its baseline is not sealed: run vigil seal --key FILE")
	case phase == engine.PhaseSetup && cfg.Phase.SetupMaxAge > 0:
		var first time.Time
		_ = db.AuditRecords(func(i int64, raw []byte) error {
			var r engine.AuditRecord
			if i == 0 && json.Unmarshal(raw, &r) == nil {
				first = r.Time
			}
			return nil
		})
		if !first.IsZero() && time.Since(first) > cfg.Phase.SetupMaxAge {
			e.log.Warn().Str("event", "setup_overdue").Time("since", first).Dur("max_age", cfg.Phase.SetupMaxAge).
				Msg("the host has been in the setup phase longer than phase.setup_max_age: harden and seal it")
		}
	}
}
