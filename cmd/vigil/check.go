package main

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/internal/report"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

const checkAbout = `Compare the host with the current baseline: the whole baseline, or only the
subtrees at PATHs. Files whose inode, inode generation, size, mtime and ctime
are unchanged are not read again, except a keyed, rotating sample of them
(scan.reread_within; it moves on once per watch.scan_interval, by the clock,
and its state file, --sample-state, cannot steer it), unless --full is given (which reads from the disk, not
the page cache). The baseline itself is verified against its root hash on the
way; with a pinned key (--pubkey, trust.pubkey), a baseline not sealed by it
is not compared with (exit 8). With --quiet nothing is printed when nothing
changed.

Each change is one line: a marker, one column per attribute, the type and
the path. Changes the classification table marks (a setuid or setgid bit,
file capabilities, a new executable, a world-writable file, persistence
paths such as /etc/cron.d, credentials, PAM and sudo configuration, ...;
see the README) end in "(security: TAGS; ATT&CK IDS)" and are shown in bold
red on a terminal; --json carries them as vigil.security and threat.*.
--verbose adds old -> new for every changed attribute below the line, inode
flags as lsattr prints them and capabilities as getcap does, and, for a file
whose content a rule keeps (diff = true: the default configuration keeps
/etc's text files, never secrets), a unified diff (3 lines of context, at
most 200 lines, the rest counted) with lines that look like secrets masked;
update shows the diffs without --verbose. --json carries them as vigil.diff.

Markers:
  +  added          -  removed        ~  changed
  >  moved (old -> new path)           !  could not be checked (error)

Attribute columns, in order (a letter where the attribute changed, "." where
it did not, "+"/"-" on every column of an added/removed entry):
  C  content (hash; a device's number)   T  type
  p  permissions (incl. setuid/setgid)   u  owner (uid)
  g  group (gid)                         s  size
  m  mtime                               c  ctime
  i  inode                               n  link count
  x  extended attributes (capabilities)  l  symlink target
  f  inode flags (chattr)`

func runCheck(ctx context.Context, e *env, inv *invocation) int {
	return e.compare(ctx, inv, (*engine.Engine).Check)
}

// warnSymlinkRoot says that a root is a symlink whose target nothing
// watches.
func (e *env) warnSymlinkRoot(root, target string) {
	e.log.Warn().Str("root", quote(root)).Str("target", quote(target)).
		Msg("root is a symlink: only the link is recorded, never followed, and no root covers its target; list the target as a root to watch it")
}

// warnPath logs a problem that does not stop the operation.
func (e *env) warnPath(path string, err error) {
	e.log.Warn().Str("path", quote(path)).Err(err).Msg("btrfs")
}

// operation is the engine's Check, Update or Reseal.
type operation func(*engine.Engine, context.Context, *store.DB, engine.Request, engine.Reporter) (engine.Result, error)

// compare runs check, update or reseal: the three share flags and output.
// Each takes the engine's trust decision first: a baseline that must not
// be compared with is not (exit 8); the phase in force is the one the audit
// log records.
func (e *env) compare(ctx context.Context, inv *invocation, op operation) int {
	name := inv.cmd.name
	paths, err := absPaths(inv.args)
	if err != nil {
		return e.fail(err)
	}
	eng, err := e.engine(inv)
	if err != nil {
		return e.fail(err)
	}
	db, err := e.openDB(eng, name == "check", false)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	statePath := inv.str("sample-state")
	if statePath == "" {
		statePath = engine.SamplePath(db.Path())
	}
	verdict, err := e.trust(eng, db)
	if err != nil {
		if name == "check" { // the fleet hears of a rollback too
			e.publishFleet(eng, db, &fleet.CheckSummary{Time: time.Now().UTC(), ExitCode: exitCode(err)})
		}
		return e.fail(err)
	}
	o := engine.Request{Paths: paths, Full: inv.bool("full"), Scan: inv.bool("scan"), Phase: verdict.Phase.Phase, SampleFile: statePath}
	if name != "check" {
		e.logFindings(verdict)
	}
	switch {
	case name == "update" && verdict.Phase.Phase == engine.PhaseHardened:
		return e.fail(engine.ErrHardened)
	case name == "update":
		if err := refuseMissingCheckpoint(verdict); err != nil {
			return e.fail(err)
		}
	case name == "reseal" && verdict.Phase.Phase != engine.PhaseHardened:
		return e.fail(&usageError{msg: "the host is in the setup phase: accept changes with 'vigil update', or harden it with 'vigil seal --key FILE'", cmd: inv.cmd})
	}
	// A PATH neither recorded nor on disk is a typo, not a clean host.
	if err := engine.KnownPaths(db, paths); err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	if name == "reseal" {
		if o.Signer, err = e.resealSigner(inv, eng); err != nil {
			return e.fail(err)
		}
	}
	if name == "update" || name == "reseal" {
		o.Reason, o.User = inv.str("reason"), who()
		if o, err = e.acceptOptions(db, inv, o); err != nil {
			return e.fail(dbError(db.Path(), err))
		}
	}
	return e.runCompare(ctx, inv, eng, db, verdict, o, op)
}

// sampleNow, if set, is the clock the keyed sample counts its periods by
// (tests move it); nil means the engine's.
var sampleNow func() time.Time

// reportSample reports what is wrong with the keyed sample's state file:
// for check a finding, exit code 8 (someone may be steering which files
// are reread); for update and reseal, which write what they accept, a
// logged error.
func (e *env) reportSample(w *report.Writer, name string, res engine.Result) (int, error) {
	if res.SampleAlert == nil {
		return 0, nil
	}
	if name != "check" {
		e.log.Error().Err(res.SampleAlert).Msg("the keyed sample's state file was tampered with or could not be kept")
		return 0, nil
	}
	ev := alerts.Tampered(res.SampleAlert, hostname(), time.Now())
	ev.Event.Action = "sample_state_tampered"
	msg := strings.ReplaceAll(res.SampleAlert.Error(), "\n", "; ")
	return exitTampered, w.Event(ev, "! sample state "+msg)
}

// runCompare runs op with o, reporting to stdout, and returns the exit code.
func (e *env) runCompare(ctx context.Context, inv *invocation, eng *engine.Engine, db *store.DB, verdict engine.Verdict, o engine.Request, op operation) int {
	name, jsonOut, cfg := inv.cmd.name, inv.bool("json"), eng.Config()
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Color: !jsonOut && useColor(e.stdout), Host: eng.Host(), Verbose: inv.bool("verbose"), Phase: o.Phase, Diffs: name != "check"})
	trustCode := 0
	if name == "check" {
		var err error
		if trustCode, err = reportFindings(w, verdict, eng.Host()); err != nil {
			return e.fail(err)
		}
	}
	var st scanner.Stats
	stop := e.startProgress(ctx, &st)
	o.Stats = &st
	start := time.Now()
	res, err := op(eng, ctx, db, o, &reporter{e: e, w: w, stop: stop})
	stop()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	code := diffCode(res) | trustCode
	pcode, err := e.reportPosture(w, res, eng.Host())
	if err != nil {
		return e.fail(err)
	}
	code |= pcode
	// A configuration that is not the baseline's is a finding of check's,
	// not only a log line: whoever can edit it can make vigil look away
	// (an exclude added for a planted file, a rule that stops watching one).
	configChanged := name == "check" && res.Baseline.ConfigDigest != cfg.Digest()
	if configChanged {
		code |= exitChanged
	}
	devFailed := false
	if name == "check" {
		var dcode int
		if dcode, err = e.reportDevices(w, res.Baseline, o.Paths); err != nil {
			return e.fail(err)
		}
		code |= dcode
		devFailed = dcode&exitTampered != 0
	}
	if name == "check" && len(o.Paths) == 0 {
		ncode, err := e.nixInCheck(ctx, w, eng, db, o.Full, o.SampleFile)
		if err != nil {
			return e.fail(err)
		}
		code |= ncode
	}
	scode, err := e.reportSample(w, name, res)
	if err != nil {
		return e.fail(err)
	}
	code |= scode
	if name == "update" || name == "reseal" {
		code = exitOK
	}
	if res.Tampered != nil {
		e.log.Error().Str("database", quote(db.Path())).Err(res.Tampered).Msg("the baseline does not match its recorded hashes")
	}
	e.warnConfig(name, res.Baseline, cfg, len(o.Paths) > 0)
	// A cron job mails whatever is printed: with --quiet, nothing when
	// nothing changed. A JSON report stays complete.
	if jsonOut || !e.quiet || code != exitOK || res.Added+res.Removed+res.Changed+res.Moved > 0 {
		sum := summary(name, res, &st, time.Since(start), code)
		sum.ConfigChanged = configChanged
		sum.IntegrityFailed = sum.IntegrityFailed || devFailed || trustCode != 0 || scode != 0
		sum.Trust, sum.Phase = criticalActions(verdict), verdict.Phase.Phase
		if err := w.Summary(sum); err != nil {
			return e.fail(err)
		}
	}
	if name == "update" || name == "reseal" {
		e.logAccepted(res, o)
		if e.afterUpdate != nil {
			e.afterUpdate()
		}
	}
	if name == "check" {
		e.publishFleet(eng, db, &fleet.CheckSummary{Time: start.UTC(), Method: res.Method, ExitCode: code,
			Added: res.Added, Removed: res.Removed, Changed: res.Changed, Moved: res.Moved, Errors: res.Errors})
	}
	if name == "reseal" && res.Written {
		return e.resealed(inv, eng, db, o.Signer, res.Baseline)
	}
	if name == "update" && res.Written {
		if _, err := e.keepCheckpoint(eng, db, nil); err != nil {
			return e.fail(err)
		}
	}
	return code
}

// warnConfig warns when the configuration in use is not the one the
// baseline was taken with. It never advises accepting changes: that would
// accept whatever is pending on the host along with the configuration.
func (e *env) warnConfig(name string, b store.Info, cfg *config.Config, scoped bool) {
	switch {
	case !slices.Equal(b.Roots, cfg.Roots) && !scoped:
		e.log.Warn().Str("config", quote(cfg.Source)).Strs("baseline_roots", quoteAll(b.Roots)).
			Msg("the configured roots differ from the baseline's, which are what " + name + " looks at; 'vigil init --force' takes a baseline of the configured ones")
	case b.ConfigDigest != cfg.Digest():
		e.log.Warn().Str("config", quote(cfg.Source)).Str("digest", cfg.Digest()).Str("baseline_digest", b.ConfigDigest).
			Msg("the configuration in use (its rules, excludes or roots) differs from the one this baseline was taken with: review the change; whoever can edit the configuration can make vigil look away")
	}
}

func summary(cmd string, res engine.Result, st *scanner.Stats, d time.Duration, code int) alerts.Summary {
	s := alerts.Summary{
		Command: cmd, Entries: res.Entries, Added: res.Added, Removed: res.Removed,
		Changed: res.Changed, Moved: res.Moved, Errors: res.Errors,
		Hashed: st.Hashed.Load(), BytesHashed: st.Bytes.Load(),
		OldRoot: hexHash(res.OldRoot), NewRoot: hexHash(res.NewRoot),
		Duration: d, ExitCode: code, Scope: res.Scopes,
		IntegrityFailed: res.Tampered != nil, Method: res.Method,
	}
	return s
}

func hexHash(h merkle.Hash) string {
	if h == (merkle.Hash{}) {
		return ""
	}
	return hex.EncodeToString(h[:])
}
