package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/textdiff"
	"vigil/internal/watch"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// job is one verification: settled hints, or a whole check.
type job struct {
	events []watch.Event
	whole  bool
	full   bool   // reread every file
	why    string // of a whole check: start, events_lost, scan, full_scan
	// large is a large file's result (large.go), to apply; requeue puts
	// the file back in the worker's queue.
	large   *largeResult
	requeue func()
	// stats, if set, are the counters the check updates (progress.go).
	stats *scanner.Stats
	// posture compares the posture only (posture.interval; see posture.go).
	posture bool
	// nix checks the Nix store only (nix.interval, a system link moved;
	// see nix.go).
	nix bool
	// settled is when the settler handed events on (see stages.go).
	settled time.Time
}

// verifier checks what jobs name against the current baseline and turns
// real differences into events. It is used from one goroutine; its state
// outlives a reload.
type verifier struct {
	dbPath        string
	host, version string
	log           zerolog.Logger
	lockWait      time.Duration
	// witness is the fleet's (nil: none), given to the engine.
	witness engine.Witness
	// alerted maps each path alerted on to the state of its last alert.
	// It is written under mu (the remediation stage reads it from the
	// dispatcher's goroutine, see standing); the verifier's own reads
	// need no lock.
	alerted map[string]string
	mu      sync.Mutex
	// signed says the baseline last compared with is sealed (signed, and
	// verified when a key is pinned): remediation acts only then.
	signed atomic.Bool
	// resolved counts, per path, the findings resolved since the start:
	// part of event.id, so that the same bad state coming back after a
	// resolve is a new finding to a consumer deduplicating on the id.
	resolved map[string]int
	// dirty are the paths of alerted and resolved changed since they were
	// last saved to the outbox file; loaded says they were read from it.
	dirty  map[string]bool
	loaded bool
	// baseline is the id of the baseline last compared against.
	baseline uint64
	// phase is the host's phase at the last verification ("" before the
	// first): a move between the phases is an event of its own.
	phase string
	// eng is the engine of engCfg (the configuration in force), verdict
	// its last trust decision, taken when trustAt (the database's, the
	// kept checkpoint's and the markers' stamps, the pinned key and the
	// minute) was as it is.
	eng     *engine.Engine
	engCfg  *config.Config
	verdict engine.Verdict
	trustAt string
	stats   *stats
	// early are the looks taken as hints arrive (see transient.go).
	early looks
	// restored marks what the restore remediation wrote (under mu; see
	// restored.go).
	restored map[string]restoredMark
	// restoring counts the restores in progress per path and directory
	// (under mu).
	restoring map[string]int
	// restoredDirty are the marks changed since they were last saved to
	// the outbox file (under mu).
	restoredDirty map[string]bool
	// nix is what the Nix store's checks keep (nix.go).
	nix nixState
}

// errBusy means the database was locked by a writer for longer than
// lockWait: the job is put back and tried again.
var errBusy = errors.New("database busy")

// run verifies j under cfg and returns the events to publish.
func (v *verifier) run(ctx context.Context, cfg *config.Config, j job) (out []alerts.Event, err error) {
	if j.large != nil {
		return v.apply(cfg, *j.large, j.requeue)
	}
	db, err := store.Open(v.dbPath, store.Options{ReadOnly: true, Timeout: v.lockWait})
	if errors.Is(err, store.ErrLocked) {
		return nil, errBusy
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		return nil, err
	}
	info := cur.Info()
	start := time.Now()
	verdict, evs, err := v.sealed(db, cfg, start)
	if err != nil {
		return nil, err
	}
	if verdict.Untrusted != nil {
		return evs, nil // not compared with: what it would say cannot be trusted
	} else if len(evs) > 0 {
		defer func() { out = append(evs, out...) }()
	}
	phase := verdict.Phase
	if v.baseline != 0 && info.ID != v.baseline {
		v.log.Info().Uint64("baseline", info.ID).Uint64("previous", v.baseline).Msg("following the new current baseline; re-verifying what was alerted")
		v.forgetRestored()
		for p := range v.alerted {
			j.events = append(j.events, watch.Event{Path: p, Op: watch.Changed})
		}
	}
	v.baseline = info.ID
	if j.posture {
		return v.postureOnly(ctx, db, info, phase.Phase, start)
	}
	if j.nix {
		return v.nixOnly(ctx, db, info, phase.Phase, start)
	}
	m := engine.SkipOwn(cfg, v.eng.Matcher(), info.Roots)
	var paths []string
	if !j.whole {
		paths = scopes(j.events, info.Roots, m)
		if len(paths) == 0 {
			return nil, nil
		}
	}
	c := &collect{v: v, scope: scopeOf(info), seen: map[string]bool{}, changes: map[string]merkle.Action{}, restored: map[string]bool{}, now: start, phase: phase.Phase,
		procs: processes(j.events)}
	var sampleFile string // the keyed sample of whole checks: a series of the daemon's own
	if j.whole {
		sampleFile = engine.WatchSamplePath(v.dbPath)
	}
	// The same engine, and so the same configuration, identity and trust
	// decision, as the one sealed took its verdict with.
	res, err := v.eng.Check(ctx, db, engine.Request{
		Paths: paths, Full: j.full, Phase: phase.Phase, SampleFile: sampleFile, Stats: j.stats,
		// The catch-up after lost events (and at the start) is, on Btrfs,
		// the search of what changed since the baseline's snapshots; the
		// periodic scan walks, so that a walk still runs on a schedule.
		// Settled hints name few paths: a walk of them costs less than a
		// syncfs and a search.
		Scan: j.why == "scan" || !j.whole,
	}, diffFuncs{engine.Funcs{OnChange: c.change, OnError: c.error}, c.changeDiff})
	if err != nil {
		// Nothing found is added: an alerted state recorded for an event
		// never published would keep the retry from alerting again.
		c.dropFound()
		return nil, err
	}
	c.addFound()
	v.stats.verified(j, len(paths), time.Since(start))
	if res.Tampered != nil {
		c.add("", alerts.Tampered(res.Tampered, v.host, start))
	}
	if res.SampleAlert != nil {
		ev := alerts.Tampered(res.SampleAlert, v.host, start)
		ev.Event.Action = "sample_state_tampered"
		ev.SetPhase(phase.Phase)
		c.add(sampleKey, ev)
	}
	if j.whole {
		// Btrfs device error counters that moved since the baseline: the
		// storage under the roots failed (or someone reset them).
		devs, err := DeviceAlerts(info, nil)
		if err != nil {
			v.log.Error().Err(err).Msg("the Btrfs device error counters could not be read")
		}
		for _, d := range devs {
			ev := alerts.DeviceErrors(d, v.host, start)
			ev.SetPhase(phase.Phase)
			c.add(fmt.Sprintf("btrfs device %s/%d", d.FSID, d.DevID), ev)
		}
	}
	c.transients(j.events, j.whole, m, info.Roots)
	c.posture(res) // whole checks compare the posture too
	c.resolve(paths, j.whole)
	v.stats.setBaseline(info.ID, fmt.Sprintf("%x", info.Root[:]), len(v.alerted), nil)
	for _, ev := range j.events {
		if !ev.First.IsZero() {
			v.stats.latency.Observe(time.Since(ev.First).Seconds())
		}
	}
	return c.out, nil
}

// scopeOf is the baseline's part of every event.id: its id and root.
func scopeOf(info store.Info) string { return fmt.Sprintf("%d:%x", info.ID, info.Root[:]) }

// scopes returns the paths of evs to check: inside the baseline's roots,
// not excluded, none inside another. Each is checked as itself (a
// directory with what is below it): siblings are not widened to their
// directory, which would list and compare it whole at every batch (a
// burst of creations in one directory re-reading all it created so far);
// the engine verifies the records of many siblings with one read of their
// directory's.
func scopes(evs []watch.Event, roots []string, m *config.Matcher) []string {
	var out []string
	for _, ev := range evs {
		if _, excluded := m.Match(ev.Path); excluded || !merkle.ValidPath(ev.Path) {
			continue
		}
		for _, r := range roots {
			if merkle.Within(ev.Path, r) {
				out = append(out, ev.Path)
				break
			}
		}
	}
	return merkle.Outermost(out)
}

// collect gathers one check's findings.
type collect struct {
	v     *verifier
	scope string // baseline id and root: part of every event.id
	seen  map[string]bool
	// changes are the actions of the changes found, by path.
	changes map[string]merkle.Action
	// restored are the paths found as a restore left them: intact.
	restored map[string]bool
	now      time.Time
	out      []alerts.Event
	phase    string // every event says it, and it sets a change's severity

	// procs are who made the changes, when the intake said (fanotify).
	procs map[string]*watch.Process

	// found are the check's findings in the order found (build.go),
	// added by addFound once the check has succeeded.
	found []*built
}

// add publishes ev about path unless it is the finding last sent for path.
func (c *collect) add(path string, ev alerts.Event) { c.addState(path, ev, ev.State()) }

// addState is add of ev whose state is state.
func (c *collect) addState(path string, ev alerts.Event, state string) {
	c.seen[path] = true
	if c.v.alerted[path] == state {
		return
	}
	c.v.setAlerted(path, state)
	c.v.dirty[path] = true
	ev.SetIDOf(c.scope+":"+strconv.Itoa(c.v.resolved[path]), state)
	c.out = append(c.out, ev)
}

func (c *collect) change(ch merkle.Change) error { return c.changeDiff(ch, nil) }

// changeDiff is change with d, the diff of the file's kept content (nil:
// none). The event is built in c.found (build.go) and added by addFound.
func (c *collect) changeDiff(ch merkle.Change, d *textdiff.Diff) error {
	if c.restoredOrPutOff(ch) {
		return nil
	}
	c.changes[ch.Path] = ch.Action
	if ch.Action == merkle.Moved && ch.Old != nil {
		c.seen[ch.Old.Path] = true
	}
	c.finding(ch, d) // seen once added
	return nil
}

// diffFuncs is an engine.DiffReporter of functions.
type diffFuncs struct {
	engine.Funcs
	onDiff func(merkle.Change, *textdiff.Diff) error
}

func (f diffFuncs) ChangeDiff(ch merkle.Change, d *textdiff.Diff) error { return f.onDiff(ch, d) }

func (c *collect) error(path string, err error) error {
	ev := alerts.ScanError(path, err, c.v.host, c.now)
	ev.Event.Severity = alerts.SeverityWarning
	ev.SetPhase(c.phase)
	c.foundBuilt(path, ev) // in its place among the changes
	return nil
}

// resolve sends a resolved event for each path alerted on, inside the
// paths checked (all, for a whole check), that the check found as
// recorded.
func (c *collect) resolve(paths []string, whole bool) {
	checked := make(map[string]bool, len(paths))
	for _, s := range paths {
		checked[s] = true
	}
	for p := range c.v.alerted {
		if c.seen[p] || p == "" && !whole || strings.HasPrefix(p, "\x00") && p != sampleKey {
			continue // the trust decision's findings are settled by sealed
		}
		if !whole && !within(p, checked) {
			continue
		}
		old := c.v.alerted[p]
		c.v.setAlerted(p, "")
		c.v.dirty[p] = true
		if p == "" || p == sampleKey {
			continue // the baseline, or the sample state, passed its check again
		}
		ev := alerts.Resolved(p, c.v.host, c.now)
		ev.SetID(c.scope + ":resolved:" + strconv.Itoa(c.v.resolved[p]) + ":" + old) // resolving that finding
		c.v.resolved[p]++
		c.v.dirty[p] = true
		c.out = append(c.out, ev)
	}
}

// within reports whether path is one of scopes or below one: one look
// per directory above it, not one per scope.
func within(path string, scopes map[string]bool) bool {
	if !strings.HasPrefix(path, "/") {
		return false // the keys of findings that are not about a path
	}
	for q := path; q != ""; q = merkle.Parent(q) {
		if scopes[q] {
			return true
		}
	}
	return false
}

// tamperedKey stands for the baseline's own finding ("" in alerted) in the
// outbox file, where keys cannot be empty; no path starts with NUL.
const tamperedKey = "\x00baseline"

// load reads the saved alert states once per process.
func (v *verifier) load(ob *store.Outbox) error {
	if v.loaded {
		return nil
	}
	m, err := ob.Alerts()
	if err != nil {
		return err
	}
	for p, s := range m {
		if p == tamperedKey {
			p = ""
		}
		if v.loadRestored(p, s.State) {
			continue
		}
		if s.State != "" {
			v.setAlerted(p, s.State)
		}
		if s.Resolved > 0 {
			v.resolved[p] = s.Resolved
		}
	}
	v.loaded = true
	return nil
}

// sealed takes the engine's trust decision on the current baseline before
// anything is compared with it (see [engine.Engine.Trust]: the same one the
// CLI takes). It returns the verdict and the events to publish: each
// finding once while it stands (resolved when it no longer does), a move
// between the recorded phases, and, when the verdict says the baseline must
// not be compared with, why. The decision is taken again only when the
// database, the kept checkpoint, the markers or the pinned key changed, and
// at least once a minute (phase.setup_max_age).
func (v *verifier) sealed(db *store.DB, cfg *config.Config, now time.Time) (engine.Verdict, []alerts.Event, error) {
	if v.eng == nil || v.engCfg != cfg {
		eng, err := engine.New(cfg, engine.Settings{Host: v.host, Version: v.version, Witness: v.witness})
		if err != nil {
			return engine.Verdict{}, nil, err
		}
		v.eng, v.engCfg, v.trustAt = eng, cfg, ""
	}
	_, marker, markerSince := engine.RequestedPhase(cfg)
	at := fmt.Sprintf("%s|%s|%s|%s|%s|%d", fileStamp(v.dbPath), fileStamp(v.eng.KeptCheckpoint()), cfg.Trust.Pubkey,
		marker, markerSince, now.Unix()/60)
	if at != v.trustAt {
		verdict, err := v.eng.Trust(db)
		if err != nil {
			return verdict, nil, err
		}
		v.verdict, v.trustAt = verdict, at
	}
	verdict := v.verdict
	var out []alerts.Event
	ps := verdict.Phase
	if v.phase != "" && v.phase != ps.Phase {
		ev := alerts.Notice("phase_changed", fmt.Sprintf("the audit log records the %s phase since %s", ps.Phase, ps.Since.UTC().Format(time.RFC3339)), v.host, now)
		ev.Event.Severity = alerts.SeverityAlert
		ev.SetPhase(ps.Phase)
		v.log.Warn().Str("phase", ps.Phase).Str("previous", v.phase).Msg("the host changed phase (recorded in the audit log)")
		out = append(out, ev)
	}
	v.phase = ps.Phase
	standing := map[string]bool{}
	if verdict.Untrusted != nil {
		v.log.Error().Err(verdict.Untrusted).Msg("the current baseline cannot be trusted: not compared with")
		action := "baseline_unsealed"
		if errors.Is(verdict.Untrusted, engine.ErrRollback) {
			action = "rollback"
		}
		out = append(out, v.once(sealKey, action, verdict.Untrusted, true, ps.Phase, now)...)
		standing[sealKey] = true
	}
	for _, f := range verdict.Findings {
		key := sealKey + ":" + f.Action
		out = append(out, v.once(key, f.Action, f.Err, f.Critical, ps.Phase, now)...)
		standing[key] = true
	}
	for p := range v.alerted {
		if strings.HasPrefix(p, sealKey) && !standing[p] {
			v.setAlerted(p, "")
			v.dirty[p] = true
		}
	}
	v.signed.Store(verdict.Sealed && verdict.Untrusted == nil)
	return verdict, out, nil
}

// fileStamp is what changes whenever the file at path is written: size,
// mtime and ctime (which a write moves and user space cannot set back but
// by the clock; see the README's Limits).
func fileStamp(path string) string {
	var st unix.Stat_t // its Mtim and Ctim exist on darwin and freebsd too
	if err := unix.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d.%d:%d.%d:%d", st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Ino)
}

// once returns the event of a trust finding under key, unless the same one
// was the last published for it.
func (v *verifier) once(key, action string, err error, critical bool, phase string, now time.Time) []alerts.Event {
	ev := alerts.TrustFinding(action, err, critical, v.host, now)
	ev.SetPhase(phase)
	if state := ev.State(); v.alerted[key] != state {
		v.setAlerted(key, state)
		v.dirty[key] = true
		return []alerts.Event{ev}
	}
	return nil
}

// sealKey stands for the seal's finding in alerted (and the outbox file):
// no path starts with NUL.
const sealKey = "\x00seal"

// sampleKey stands for the sample state file's finding, as sealKey.
const sampleKey = "\x00sample"

// setAlerted records path's alerted state; "" forgets it.
func (v *verifier) setAlerted(path, state string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if state == "" {
		delete(v.alerted, path)
		return
	}
	v.alerted[path] = state
}

// standing reports whether the alert on path in state is the one standing:
// safe to call from any goroutine.
func (v *verifier) standing(path, state string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.alerted[path] == state
}
