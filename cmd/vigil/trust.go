package main

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/internal/textdiff"
	"vigil/merkle"
	"vigil/store"
)

// engine builds the command's engine from the configuration, pinning
// --pubkey when the command has it.
func (e *env) engine(inv *invocation) (*engine.Engine, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	return e.engineOf(cfg, inv)
}

func (e *env) engineOf(cfg *config.Config, inv *invocation) (*engine.Engine, error) {
	// sampleNow (tests) moves the clock the keyed sample counts by.
	s := engine.Settings{Host: hostname(), Version: version, Pubkey: inv.str("pubkey"), Now: sampleNow}
	a, err := e.fleetAgent(cfg)
	if err != nil {
		return nil, err
	}
	if a != nil {
		s.Witness = a
	}
	return engine.New(cfg, s)
}

// trust takes the engine's trust decision on db and logs its findings. A
// baseline that must not be compared with (a broken seal, a rollback) is
// an error (exit 8).
func (e *env) trust(eng *engine.Engine, db *store.DB) (engine.Verdict, error) {
	v, err := eng.Trust(db)
	if err != nil {
		return v, dbError(db.Path(), err)
	}
	if v.Untrusted != nil {
		return v, dbError(db.Path(), v.Untrusted)
	}
	return v, nil
}

// logFindings logs the trust decision's findings: critical ones as errors.
func (e *env) logFindings(v engine.Verdict) {
	for _, f := range v.Findings {
		ev := e.log.Warn()
		if f.Critical {
			ev = e.log.Error()
		}
		ev.Str("event", f.Action).Msg(f.Err.Error())
	}
}

// reportFindings writes the trust decision's findings to a report, as
// events (JSON) or lines, and returns the exit code bits they set: 8 for a
// critical one.
func reportFindings(w *report.Writer, v engine.Verdict, host string) (int, error) {
	code := 0
	for _, f := range v.Findings {
		ev := alerts.TrustFinding(f.Action, f.Err, f.Critical, host, time.Now())
		mark := "warning"
		if f.Critical {
			mark, code = "CRITICAL", exitTampered
		}
		if err := w.Event(ev, fmt.Sprintf("! trust %s %s: %s", mark, f.Action, f.Err)); err != nil {
			return code, err
		}
	}
	return code, nil
}

// criticalActions lists the critical findings' actions.
func criticalActions(v engine.Verdict) []string {
	var out []string
	for _, f := range v.Findings {
		if f.Critical {
			out = append(out, f.Action)
		}
	}
	return out
}

// keepCheckpoint writes the kept checkpoint after a command that added to
// the audit log (signed when signer is set) and returns it.
func (e *env) keepCheckpoint(eng *engine.Engine, db *store.DB, signer note.Signer) ([]byte, error) {
	cp, err := eng.KeepCheckpoint(db, signer)
	if err != nil {
		return nil, fmt.Errorf("the audit log's checkpoint could not be kept in %s: %w", eng.KeptCheckpoint(), err)
	}
	e.publishFleet(eng, db, nil)
	return cp, nil
}

// refuseMissingCheckpoint refuses an unsigned write over a database whose
// kept checkpoint is gone: only a signed act writes it again.
func refuseMissingCheckpoint(v engine.Verdict) error {
	for _, f := range v.Findings {
		if f.Action == "checkpoint_missing" {
			return fmt.Errorf("%w; to start over in the setup phase take a new baseline ('vigil init --force'), in the hardened phase reseal with the key", f.Err)
		}
	}
	return nil
}

// hasBaseline reports whether db holds a current baseline.
func hasBaseline(db *store.DB) (bool, error) {
	_, err := db.Current()
	if errors.Is(err, store.ErrNoBaseline) {
		return false, nil
	}
	return err == nil, err
}

// readSigner reads a signer key file.
func readSigner(path string) (note.Signer, error) {
	if path == "" {
		return nil, &usageError{msg: "no --key given"}
	}
	return engine.ReadSigner(path)
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
	v, err := engine.ReadVerifier(path)
	return v, path, err
}

// reporter is the CLI's engine.Reporter: changes and unreadable paths go to
// the report w (the progress line stopped first), or, without one,
// unreadable paths to the log; warnings go to the log.
type reporter struct {
	e    *env
	w    *report.Writer
	stop func()
	// missing says roots that do not exist are logged (init, seal: one
	// configuration serves hosts of several layouts).
	missing bool
	// n counts the changes and unreadable paths reported.
	n int64
}

func (r *reporter) halt() {
	if r.stop != nil {
		r.stop()
	}
}

func (r *reporter) Change(c merkle.Change) error {
	r.halt()
	r.n++
	if r.w == nil {
		return nil
	}
	return r.w.Change(c)
}

// ChangeDiff reports a change with the diff of its kept content.
func (r *reporter) ChangeDiff(c merkle.Change, d *textdiff.Diff) error {
	r.halt()
	r.n++
	if r.w == nil {
		return nil
	}
	return r.w.ChangeDiff(c, d)
}

func (r *reporter) Error(p string, err error) error {
	r.halt()
	r.n++
	if r.w == nil {
		r.e.log.Warn().Str("path", quote(p)).Msg(errorText(p, err))
		return nil
	}
	return r.w.Error(p, err)
}

func (r *reporter) Warn(p string, err error) { r.e.warnPath(p, err) }

func (r *reporter) Missing(root string) {
	if r.missing {
		r.e.log.Warn().Str("root", quote(root)).Msg("root does not exist here; skipped")
	}
}

func (r *reporter) SymlinkRoot(root, target string) { r.e.warnSymlinkRoot(root, target) }

// trusted is the start of the commands that use the database under the
// trust decision: the engine, the database (read-only unless the command
// writes), the verdict, its findings logged. A baseline that must not be
// compared with is an error (exit 8); on any error nothing stays open.
func (e *env) trusted(inv *invocation, readOnly bool) (*engine.Engine, *store.DB, engine.Verdict, error) {
	eng, err := e.engine(inv)
	if err != nil {
		return nil, nil, engine.Verdict{}, err
	}
	db, err := e.openDB(eng, readOnly, false)
	if err != nil {
		return nil, nil, engine.Verdict{}, err
	}
	v, err := e.trust(eng, db)
	if err != nil {
		db.Close()
		return nil, nil, v, err
	}
	e.logFindings(v)
	return eng, db, v, nil
}
