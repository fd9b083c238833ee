package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"vigil/internal/config"
	"vigil/internal/posture"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// Engine is what every operation on one host shares: the configuration and
// its compiled matcher, the database's path, the host's identity, the
// pinned verifier key and where the audit log's checkpoint is kept. The CLI
// builds one per command, the daemon one per configuration; both take
// every trust decision through [Engine.Trust].
type Engine struct {
	cfg     *config.Config
	matcher *config.Matcher
	host    string
	version string
	now     func() time.Time
	// pinned verifies seals and signed phase records; nil when no key is
	// pinned. pubkey is the file it was read from.
	pinned note.Verifiers
	pubkey string
	// kept is the kept checkpoint's file.
	kept string
	// posture collects the posture (nil: not enabled); postureChecks are
	// the configured profile's checks.
	posture       *posture.Collector
	postureChecks []posture.Check
	// witness gives the fleet's witnessed checkpoint; nil: no fleet.
	witness Witness
}

// Settings are what [New] takes beside the configuration.
type Settings struct {
	// Host names the host in new baselines and records; "" is the
	// system's host name.
	Host string
	// Version is vigil's version, recorded in new baselines.
	Version string
	// Pubkey, if set, is the verifier key file to pin instead of the
	// configuration's trust.pubkey (the --pubkey flag).
	Pubkey string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Witness, if set, gives the checkpoint the fleet's witnesses cosigned
	// (see [Witness]); nil means no fleet.
	Witness Witness
}

// New returns the engine of cfg: it compiles the matcher and reads the
// pinned key, so that a bad pattern or key fails before anything is done.
func New(cfg *config.Config, s Settings) (*Engine, error) {
	m, err := cfg.Matcher()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, matcher: m, host: s.Host, version: s.Version, now: s.Now, pubkey: s.Pubkey, witness: s.Witness}
	if e.host == "" {
		e.host, _ = os.Hostname()
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.pubkey == "" {
		e.pubkey = cfg.Trust.Pubkey
	}
	if e.pubkey != "" {
		v, err := ReadVerifier(e.pubkey)
		if err != nil {
			return nil, err
		}
		e.pinned = note.VerifierList(v)
	}
	e.kept = cfg.Trust.Checkpoint
	if e.kept == "" {
		e.kept = CheckpointPath(cfg.Database)
	}
	if e.posture, e.postureChecks, err = Posture(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// CheckpointPath returns where the audit log's checkpoint of the database
// at db is kept by default: beside it, in vigil's state directory.
func CheckpointPath(db string) string { return db + ".checkpoint" }

// ReadVerifier reads a verifier key file (vigil keygen's vigil.pub).
func ReadVerifier(path string) (note.Verifier, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrKey, err)
	}
	return v, nil
}

// ReadSigner reads a signer key file (vigil keygen's vigil.key).
func ReadSigner(path string) (note.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrKey, err)
	}
	return s, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() *config.Config { return e.cfg }

// Matcher returns the configuration's compiled matcher.
func (e *Engine) Matcher() *config.Matcher { return e.matcher }

// Host returns the host's name.
func (e *Engine) Host() string { return e.host }

// Pinned returns the pinned verifiers (nil: none) and their key file.
func (e *Engine) Pinned() (note.Verifiers, string) { return e.pinned, e.pubkey }

// KeptCheckpoint returns the kept checkpoint's file.
func (e *Engine) KeptCheckpoint() string { return e.kept }

// Options returns the options every operation starts from: the
// configuration, the host's identity, the clock and the kept checkpoint.
func (e *Engine) Options() Options {
	return Options{Config: e.cfg, Host: e.host, Version: e.version, Now: e.now, KeptCheckpoint: e.kept,
		Posture: e.posture, PostureChecks: e.postureChecks}
}

// Open opens the engine's database (see [OpenDB]).
func (e *Engine) Open(readOnly, create bool, timeout time.Duration) (*store.DB, error) {
	return OpenDB(e.cfg.Database, readOnly, create, timeout)
}

// OpenDB opens the database at path: read-only (a check, the daemon) or to
// write; only create may make a missing one (with its directory, 0700),
// otherwise a missing database is [store.ErrNoBaseline] and nothing is
// created. timeout bounds the wait for another vigil's lock (0: a second).
func OpenDB(path string, readOnly, create bool, timeout time.Duration) (*store.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !create {
		return nil, fmt.Errorf("%s: %w (run 'vigil init' first, or give the right --db or --config)", path, store.ErrNoBaseline)
	}
	if create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
	}
	return store.Open(path, store.Options{ReadOnly: readOnly, Timeout: timeout})
}

// Finding is what the trust decision found that an operator must hear of
// even when the baseline is compared with: a critical finding makes check
// exit 8 and is a critical event in the daemon.
type Finding struct {
	// Action names it, as event.action: phase_marker_mismatch,
	// phase_record_forged, hardened_unsealed, key_unpinned,
	// checkpoint_missing, checkpoint_unreadable, checkpoint_behind,
	// setup_overdue.
	Action   string
	Err      error
	Critical bool
}

// Verdict is the outcome of [Engine.Trust].
type Verdict struct {
	// Phase is the phase in force (recorded) and the one requested.
	Phase PhaseState
	// Sealed says the current baseline is signed and, with a key pinned,
	// verified against it: remediation acts only on a sealed baseline.
	Sealed bool
	// SignedBy names the key that signed the current baseline.
	SignedBy string
	// Untrusted, if set, says why the current baseline must not be
	// compared with (a broken seal, a rollback): it wraps
	// [store.ErrTampered] or [ErrRollback].
	Untrusted error
	// Findings are the rest, in the order found.
	Findings []Finding
	// Checkpoint is the kept checkpoint's size (-1 when there is none)
	// and Audit the audit log's.
	Checkpoint, Audit int64
	// Moves are the moves between the phases that count, oldest first.
	Moves []PhaseMove
	// Witnessed is the size of the checkpoint the fleet's witnesses
	// cosigned (-1: no fleet, none yet, or out of reach).
	Witnessed int64
}

// Critical reports whether any finding is critical.
func (v Verdict) Critical() bool {
	for _, f := range v.Findings {
		if f.Critical {
			return true
		}
	}
	return false
}

func (v *Verdict) add(action string, critical bool, err error) {
	v.Findings = append(v.Findings, Finding{Action: action, Err: err, Critical: critical})
}

// Trust is the one trust decision every caller takes before it compares the
// host with the current baseline or builds on it: check, update, reseal,
// seal, restore, proof, the daemon's verifier and its remediation. It
//   - refuses a database whose file failed its checks at open ([ErrDamaged]);
//   - verifies the audit log's hashes, and that the current baseline is the
//     newest one the log records;
//   - reads the phase in force from the log (a move back to setup counts
//     only when signed by the pinned key) and compares it with the markers;
//   - verifies the current baseline's seal against the pinned key (and
//     every other kept signed statement); a sealed baseline with no key
//     pinned, or a hardened host with an unsealed one, is a finding;
//   - requires the audit log to extend the kept checkpoint, and the kept
//     checkpoint to exist once the log says it was written;
//   - requires it to extend the checkpoint the fleet's witnesses cosigned,
//     when a [Witness] is set (see witness.go).
//
// It writes nothing. An error is one that stops the operation (the
// database could not be read); what is wrong with the baseline is in the
// verdict.
func (e *Engine) Trust(db *store.DB) (Verdict, error) {
	v := Verdict{Checkpoint: -1, Witnessed: -1}
	for _, w := range db.Warnings() {
		if errors.Is(w, store.ErrCorrupt) {
			return v, fmt.Errorf("%w: %w", ErrDamaged, w)
		}
	}
	t, err := db.VerifyAudit()
	if err != nil {
		if errors.Is(err, store.ErrTampered) {
			v.Untrusted = err
			return v, nil
		}
		return v, err
	}
	v.Audit = t.N
	facts, err := readAudit(db, e.pinned)
	if err != nil {
		return v, err
	}
	ps := facts.phase
	ps.Requested, ps.Marker, ps.MarkerSince = RequestedPhase(e.cfg)
	v.Phase, v.Moves = ps, facts.moves
	for _, f := range facts.forged {
		v.add("phase_record_forged", true, f)
	}
	e.phaseFindings(&v)
	cur, err := db.Current()
	if err != nil {
		return v, err
	}
	e.sealFindings(db, cur.Info(), facts.newest, &v)
	if v.Untrusted == nil {
		e.checkpointFindings(db, t, facts.kept, &v)
	}
	if v.Untrusted == nil {
		e.witnessFindings(db, t, &v)
	}
	return v, nil
}

// phaseFindings reports markers that disagree with the recorded phase and a
// setup phase that outlasted phase.setup_max_age.
func (e *Engine) phaseFindings(v *Verdict) {
	ps := v.Phase
	switch {
	case ps.Phase == PhaseHardened && ps.Requested == PhaseSetup:
		v.add("phase_marker_mismatch", true, fmt.Errorf("the audit log records the hardened phase (since %s) but no marker says so (%s): the hardened policy stays in force; leaving it takes 'vigil phase setup --key FILE --reason TEXT'",
			ps.Since.UTC().Format(time.RFC3339), strings.Join(e.cfg.Phase.Markers(), ", ")))
	case ps.Phase == PhaseSetup && ps.Requested == PhaseHardened:
		v.add("phase_marker_mismatch", true, fmt.Errorf("the marker %s asks for the hardened phase but no seal is recorded: the host is not protected until 'vigil seal --key FILE'", ps.Marker))
	}
	if max := e.cfg.Phase.SetupMaxAge; ps.Phase == PhaseSetup && max > 0 && !ps.Since.IsZero() {
		if age := e.now().Sub(ps.Since); age > max {
			v.add("setup_overdue", true, fmt.Errorf("in the setup phase since %s (%s), longer than phase.setup_max_age (%s): harden and seal the host",
				ps.Since.UTC().Format(time.RFC3339), age.Round(time.Second), max))
		}
	}
}

// sealFindings checks the current baseline's place in the audit log and its
// seal.
func (e *Engine) sealFindings(db *store.DB, in store.Info, newest uint64, v *Verdict) {
	if newest != 0 && newest != in.ID {
		v.Untrusted = fmt.Errorf("baseline %d: %w: the audit log records baseline %d after it", in.ID, ErrRollback, newest)
		return
	}
	signed := len(in.Signature) > 0
	v.SignedBy = in.SignedBy
	switch {
	case e.pinned != nil && (signed || v.Phase.Phase == PhaseHardened):
		err := verifySeal(db, in, e.pinned, newest)
		if err == nil {
			err = verifyKeptStatements(db, e.pinned)
		}
		if err != nil {
			v.Untrusted = fmt.Errorf("%w (key %s)", err, e.pubkey)
			return
		}
		v.Sealed = signed
	case e.pinned != nil:
		// The setup phase's unsigned baselines are how that phase works;
		// what was signed before stays what it was signed as.
		if err := verifyKeptStatements(db, e.pinned); err != nil {
			v.Untrusted = fmt.Errorf("%w (key %s)", err, e.pubkey)
			return
		}
	case signed:
		v.Sealed = true
		v.add("key_unpinned", v.Phase.Phase == PhaseHardened, fmt.Errorf("baseline %d is sealed by %s but no key is pinned (trust.pubkey or --pubkey): its seal is not verified", in.ID, in.SignedBy))
	}
	if v.Phase.Phase == PhaseHardened && !signed {
		v.add("hardened_unsealed", true, fmt.Errorf("baseline %d: the host is in the hardened phase but its baseline is not sealed: run 'vigil reseal' or attach the signature ('vigil seal --signature FILE')", in.ID))
	}
}

// checkpointFindings compares the audit log t with the kept checkpoint.
// kept says an audit record names a kept checkpoint.
func (e *Engine) checkpointFindings(db *store.DB, t store.AuditTree, kept bool, v *Verdict) {
	cp, err := readKept(e.kept, e.pinned)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if kept {
			v.add("checkpoint_missing", true, fmt.Errorf("%s: %w though the audit log says it was written: the database may have been put back; it is written again only by a signed seal, reseal or phase change",
				e.kept, ErrCheckpointMissing))
		}
		return
	case errors.As(err, new(*fs.PathError)):
		// Not readable here (an unprivileged check without
		// CAP_DAC_READ_SEARCH): no rollback can be ruled out.
		v.add("checkpoint_unreadable", true, fmt.Errorf("the kept checkpoint cannot be read, so a database put back cannot be ruled out: %w", err))
		return
	case err != nil:
		v.Untrusted = fmt.Errorf("%s: %w: %w", e.kept, store.ErrTampered, err)
		return
	}
	v.Checkpoint = int64(cp.Size)
	if int64(cp.Size) > t.N {
		v.Untrusted = fmt.Errorf("%w: its audit log has %d records, the checkpoint kept in %s has %d", ErrRollback, t.N, e.kept, cp.Size)
		return
	}
	at, err := db.AuditAt(int64(cp.Size))
	if err != nil || !bytes.Equal(at.Hash[:], cp.Hash) {
		v.Untrusted = fmt.Errorf("%w: its audit log does not extend the checkpoint kept in %s (size %d): the log was rewritten", ErrRollback, e.kept, cp.Size)
		return
	}
	if int64(cp.Size) < t.N {
		v.add("checkpoint_behind", false, fmt.Errorf("%s: the kept checkpoint (size %d) is behind the audit log (%d records): the next update, seal or reseal moves it forward", e.kept, cp.Size, t.N))
	}
}

// readKept reads a kept checkpoint: a C2SP checkpoint, signed (a signed
// note, which must verify against vs when a key is pinned) or not (the
// setup phase's updates have no key).
func readKept(path string, vs note.Verifiers) (tlogfmt.Checkpoint, error) {
	var cp tlogfmt.Checkpoint
	raw, err := os.ReadFile(path)
	if err != nil {
		return cp, err
	}
	body, sigs, signed := bytes.Cut(raw, []byte("\n\n"))
	if signed {
		body = append(body, '\n')
		if len(bytes.TrimSpace(sigs)) == 0 {
			return cp, errors.New("an empty signature block")
		}
		if vs != nil {
			if _, err := note.Open(raw, vs); err != nil {
				return cp, fmt.Errorf("its signature: %w", err)
			}
		}
	}
	_, err = cp.Unmarshal(body)
	return cp, err
}

// KeepCheckpoint writes the audit log's checkpoint to the kept checkpoint
// file, atomically (a crash leaves the old one or the new one), signed when
// signer is set; a signed one is also stored in the database. It never
// moves the kept checkpoint backwards. It returns what it wrote.
func (e *Engine) KeepCheckpoint(db *store.DB, signer note.Signer) ([]byte, error) {
	t, err := db.Audit()
	if err != nil {
		return nil, err
	}
	if old, err := readKept(e.kept, nil); err == nil && int64(old.Size) > t.N {
		return nil, fmt.Errorf("%s: %w: the kept checkpoint (size %d) is ahead of the audit log (%d records)", e.kept, ErrRollback, old.Size, t.N)
	}
	cp := tlogfmt.Checkpoint{Origin: "vigil/" + e.host, Size: uint64(t.N), Hash: t.Hash[:]}
	out := cp.Marshal()
	if signer != nil {
		if out, err = note.Sign(&note.Note{Text: string(out)}, signer); err != nil {
			return nil, err
		}
		if err := db.SetCheckpoint(out); err != nil {
			return nil, err
		}
	}
	return out, writeAtomic(e.kept, out, 0o644)
}

// writeAtomic replaces path with data: a temporary file beside it, synced,
// renamed over it, the directory synced.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err = errors.Join(err, f.Sync(), f.Close()); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// KeptAhead returns an error wrapping [ErrRollback] when the kept
// checkpoint is not a prefix of db's audit log: a database made anew (or put
// back) beside the checkpoint of a newer one. Commands that write check it
// before they write anything.
func (e *Engine) KeptAhead(db *store.DB) error {
	cp, err := readKept(e.kept, e.pinned)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", e.kept, store.ErrTampered, err)
	}
	t, err := db.Audit()
	if err != nil {
		return err
	}
	if int64(cp.Size) <= t.N {
		if at, err := db.AuditAt(int64(cp.Size)); err == nil && bytes.Equal(at.Hash[:], cp.Hash) {
			return nil
		}
	}
	return fmt.Errorf("%w: the checkpoint kept in %s (size %d) is not part of the audit log of %s (%d records): this is not the database it was kept for, or the database was put back or replaced; if that was intended, move the kept checkpoint away after looking into it",
		ErrRollback, e.kept, cp.Size, db.Path(), t.N)
}

// Request is what one operation asks of the engine; everything else (the
// configuration, the host's identity, the clock, the kept checkpoint)
// comes from the engine.
type Request struct {
	// Paths limit Check and Update to these subtrees; for Init and Seal
	// they replace the configured roots.
	Paths []string
	// Full rereads every file; Scan walks where a Btrfs search would do;
	// Force lets Init replace a baseline.
	Full, Scan, Force bool
	// Phase is the phase in force, from the trust decision's [Verdict].
	Phase string
	// Reason and User say why and by whom a baseline is written.
	Reason, User string
	// Signer signs the new baseline's statement (Seal, Reseal).
	Signer note.Signer
	// Accept chooses which changes Update and Reseal accept (see
	// [Options.Accept]).
	Accept func(merkle.Change) (bool, error)
	// SampleFile is the keyed sample's state file (see
	// [Options.SampleFile]).
	SampleFile string
	// Stats, if set, is updated during the scan (for progress).
	Stats *scanner.Stats
	// Pace, if set, is called before each chunk of a file is read and may
	// block: the watch's large files give way to its small ones.
	Pace func()
}

// options returns the operation's options: the engine's, r's and rep.
func (e *Engine) options(r Request, rep Reporter) Options {
	o := e.Options()
	o.Paths, o.Full, o.Scan, o.Force, o.Phase = r.Paths, r.Full, r.Scan, r.Force, r.Phase
	o.Reason, o.User, o.Signer, o.Accept = r.Reason, r.User, r.Signer, r.Accept
	o.SampleFile, o.Stats, o.Report = r.SampleFile, r.Stats, rep
	o.Pace = r.Pace
	return o
}

// Op is one of the engine's operations on a database.
type Op func(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error)

// Check compares the host with the current baseline (see the package
// function [Check]).
func (e *Engine) Check(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error) {
	return Check(ctx, db, e.options(r, rep))
}

// Update accepts the current state as a new baseline ([Update]).
func (e *Engine) Update(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error) {
	return Update(ctx, db, e.options(r, rep))
}

// Reseal accepts planned changes in the hardened phase, signed ([Reseal]).
func (e *Engine) Reseal(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error) {
	return Reseal(ctx, db, e.options(r, rep))
}

// Init takes a first baseline ([Init]).
func (e *Engine) Init(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error) {
	return Init(ctx, db, e.options(r, rep))
}

// Seal takes, signs and records the trusted baseline ([Seal]).
func (e *Engine) Seal(ctx context.Context, db *store.DB, r Request, rep Reporter) (Result, error) {
	return Seal(ctx, db, e.options(r, rep))
}

// Preflight checks what Init and Seal need before anything is created on
// disk ([Preflight]).
func (e *Engine) Preflight(r Request) ([]string, error) {
	return Preflight(e.options(r, nil), e.cfg.Database)
}
