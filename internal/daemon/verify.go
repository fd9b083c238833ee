package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/watch"
	"vigil/merkle"
	"vigil/store"
)

// job is one verification: settled hints, or a whole check.
type job struct {
	events []watch.Event
	whole  bool
	full   bool   // reread every file
	why    string // of a whole check: start, events_lost, scan, full_scan
}

// verifier checks what jobs name against the current baseline and turns
// real differences into events. It is used from one goroutine; its state
// outlives a reload.
type verifier struct {
	dbPath        string
	host, version string
	log           zerolog.Logger
	lockWait      time.Duration
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
	// sealedAt identifies the database file (size, mtime, ctime) and the
	// pinned key of the last seal that verified: verifying the signatures
	// and the audit log again is needed only once either changed.
	sealedAt string
	stats    *stats
}

// errBusy means the database was locked by a writer for longer than
// lockWait: the job is put back and tried again.
var errBusy = errors.New("database busy")

// run verifies j under cfg and returns the events to publish.
func (v *verifier) run(ctx context.Context, cfg *config.Config, j job) (out []alerts.Event, err error) {
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
	phase := engine.CurrentPhase(cfg)
	if evs, ok := v.sealed(db, cfg, phase, start); !ok {
		return evs, nil // not compared with: what it would say cannot be trusted
	} else if len(evs) > 0 {
		defer func() { out = append(evs, out...) }()
	}
	v.signed.Store(len(info.Signature) > 0)
	if v.baseline != 0 && info.ID != v.baseline {
		v.log.Info().Uint64("baseline", info.ID).Uint64("previous", v.baseline).Msg("following the new current baseline; re-verifying what was alerted")
		for p := range v.alerted {
			j.events = append(j.events, watch.Event{Path: p, Op: watch.Changed})
		}
	}
	v.baseline = info.ID
	m, err := cfg.Matcher()
	if err != nil {
		return nil, err
	}
	var paths []string
	if !j.whole {
		paths = scopes(j.events, info.Roots, m)
		if len(paths) == 0 {
			return nil, nil
		}
	}
	c := &collect{v: v, scope: fmt.Sprintf("%d:%x", info.ID, info.Root[:]), seen: map[string]bool{}, now: start, phase: phase.Phase}
	res, err := engine.Check(ctx, db, engine.Options{
		Config: cfg, Paths: paths, Full: j.full, Host: v.host, Version: v.version, Phase: phase.Phase,
		Change: c.change, Error: c.error,
		// The catch-up after lost events (and at the start) is, on Btrfs,
		// the search of what changed since the baseline's snapshots; the
		// periodic scan walks, so that a walk still runs on a schedule.
		Scan: j.why == "scan",
	})
	if err != nil {
		return nil, err
	}
	v.stats.verified(j, len(paths), time.Since(start))
	if res.Tampered != nil {
		c.add("", alerts.Tampered(res.Tampered, v.host, start))
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
	c.resolve(paths, j.whole)
	v.stats.setBaseline(info.ID, fmt.Sprintf("%x", info.Root[:]), len(v.alerted), nil)
	for _, ev := range j.events {
		if !ev.First.IsZero() {
			v.stats.latency.Observe(time.Since(ev.First).Seconds())
		}
	}
	return c.out, nil
}

// collapseAt is how many paths of one directory a batch may name before
// the directory is checked as a whole instead: each scope's verification
// reads its parent's children, so many siblings cost one listing each.
const collapseAt = 16

// scopes returns the paths of evs to check: inside the baseline's roots,
// not excluded, none inside another; the siblings of a busy directory
// become that directory.
func scopes(evs []watch.Event, roots []string, m *config.Matcher) []string {
	perDir := map[string]int{}
	for _, ev := range evs {
		perDir[merkle.Parent(ev.Path)]++
	}
	var out []string
	for _, ev := range evs {
		if d := merkle.Parent(ev.Path); perDir[d] > collapseAt {
			ev.Path = d
		}
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
	now   time.Time
	out   []alerts.Event
	phase string // every event says it, and it sets a change's severity
}

// add publishes ev about path unless it is the finding last sent for path.
func (c *collect) add(path string, ev alerts.Event) {
	c.seen[path] = true
	state := ev.State()
	if c.v.alerted[path] == state {
		return
	}
	c.v.setAlerted(path, state)
	c.v.dirty[path] = true
	ev.SetID(c.scope + ":" + strconv.Itoa(c.v.resolved[path]))
	c.out = append(c.out, ev)
}

func (c *collect) change(ch merkle.Change) error {
	ev := alerts.FromChange(ch, c.v.host, c.now)
	ev.Event.Severity = alerts.SeverityAlert
	ev.SetPhase(c.phase)
	if ch.Action == merkle.Moved && ch.Old != nil {
		c.seen[ch.Old.Path] = true
	}
	c.add(ch.Path, ev)
	return nil
}

func (c *collect) error(path string, err error) error {
	ev := alerts.ScanError(path, err, c.v.host, c.now)
	ev.Event.Severity = alerts.SeverityWarning
	ev.SetPhase(c.phase)
	c.add(path, ev)
	return nil
}

// resolve sends a resolved event for each path alerted on, inside the
// paths checked (all, for a whole check), that the check found as
// recorded.
func (c *collect) resolve(paths []string, whole bool) {
	for p := range c.v.alerted {
		if c.seen[p] || p == "" && !whole || p == sealKey {
			continue // the seal's finding is settled by sealed
		}
		in := whole
		for _, s := range paths {
			in = in || merkle.Within(p, s)
		}
		if !in {
			continue
		}
		old := c.v.alerted[p]
		c.v.setAlerted(p, "")
		c.v.dirty[p] = true
		if p == "" {
			continue // the baseline passed its integrity check again
		}
		ev := alerts.Resolved(p, c.v.host, c.now)
		ev.SetID(c.scope + ":resolved:" + strconv.Itoa(c.v.resolved[p]) + ":" + old) // resolving that finding
		c.v.resolved[p]++
		c.v.dirty[p] = true
		c.out = append(c.out, ev)
	}
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

// save writes the changed alert states to the outbox file.
func (v *verifier) save(ob *store.Outbox) error {
	if len(v.dirty) == 0 {
		return nil
	}
	m := make(map[string]store.AlertState, len(v.dirty))
	for p := range v.dirty {
		k := p
		if k == "" {
			k = tamperedKey
		}
		m[k] = store.AlertState{State: v.alerted[p], Resolved: v.resolved[p]}
	}
	if err := ob.SaveAlerts(m); err != nil {
		return err
	}
	clear(v.dirty)
	return nil
}

// sealed checks what the phase and a pinned key say of the current
// baseline before anything is compared with it. It returns the events to
// publish, and ok false when the baseline must not be compared with: not
// sealed by the pinned key, or not the newest one its audit log records.
// A move between the phases, and a hardened host whose baseline is not
// sealed, are events too.
func (v *verifier) sealed(db *store.DB, cfg *config.Config, ps engine.PhaseState, now time.Time) ([]alerts.Event, bool) {
	var out []alerts.Event
	if v.phase != "" && v.phase != ps.Phase {
		ev := alerts.Notice("phase_changed", "", v.host, now)
		ev.Event.Severity = alerts.SeverityAlert
		ev.SetPhase(ps.Phase)
		v.log.Warn().Str("phase", ps.Phase).Str("previous", v.phase).Msg("the host changed phase (record it in the audit log with vigil phase)")
		out = append(out, ev)
	}
	v.phase = ps.Phase
	cur, err := db.Current()
	if err != nil {
		return out, true // the check reports it
	}
	if cfg.Trust.Pubkey == "" {
		if ps.Phase == engine.PhaseHardened && len(cur.Info().Signature) == 0 {
			out = append(out, v.once("hardened_unsealed", fmt.Errorf("baseline %d: the host is in the hardened phase but its baseline is not sealed", cur.Info().ID), ps, now)...)
		}
		return out, true
	}
	at := fileStamp(v.dbPath) + "|" + cfg.Trust.Pubkey
	if at == v.sealedAt {
		return out, true
	}
	raw, err := os.ReadFile(cfg.Trust.Pubkey)
	var vf note.Verifier
	if err == nil {
		vf, err = note.NewVerifier(strings.TrimSpace(string(raw)))
	}
	if err == nil {
		_, err = db.VerifyAudit()
	}
	if err == nil {
		err = engine.VerifySeals(db, note.VerifierList(vf))
	}
	if err != nil {
		v.log.Error().Err(err).Str("pubkey", cfg.Trust.Pubkey).Msg("the current baseline is not sealed by the pinned key: not compared with")
		return append(out, v.once("baseline_unsealed", err, ps, now)...), false
	}
	if at != "|"+cfg.Trust.Pubkey {
		v.sealedAt = at
	}
	if _, ok := v.alerted[sealKey]; ok {
		v.setAlerted(sealKey, "")
		v.dirty[sealKey] = true
	}
	return out, true
}

// fileStamp is what changes whenever the file at path is written: size,
// mtime and ctime (which a write moves and user space cannot set back but
// by the clock; see the README's Limits).
func fileStamp(path string) string {
	var st unix.Stat_t // its Mtim and Ctim exist on darwin and freebsd too
	if err := unix.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d.%d:%d.%d", st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
}

// once returns a critical event about the seal, unless the same one was
// the last published.
func (v *verifier) once(action string, err error, ps engine.PhaseState, now time.Time) []alerts.Event {
	ev := alerts.Tampered(err, v.host, now)
	ev.Event.Action = action
	ev.SetPhase(ps.Phase)
	if state := ev.State(); v.alerted[sealKey] != state {
		v.setAlerted(sealKey, state)
		v.dirty[sealKey] = true
		return []alerts.Event{ev}
	}
	return nil
}

// sealKey stands for the seal's finding in alerted (and the outbox file):
// no path starts with NUL.
const sealKey = "\x00seal"

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
