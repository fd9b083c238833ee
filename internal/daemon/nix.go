package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/store"
)

// nixPrefix starts the keys of Nix store findings in the verifier's
// alerted map: file paths start with '/', so the two never meet.
const nixPrefix = "nix:"

// nixState is what the verifier keeps of the Nix store's checks between
// them.
type nixState struct {
	// roots are the system links' targets when last looked at
	// (nixRootsOf): a change is a new closure to check.
	roots string
	// last is the keyed sample's period of the last Nix check (0: none).
	last uint64
}

// nixInterval is how often the Nix store is checked on its own
// (nix.interval).
func nixInterval(c *config.Config) time.Duration {
	if c.Nix.Interval > 0 {
		return c.Nix.Interval
	}
	return config.DefaultNixInterval
}

// nixLinks are the links whose move changes the system closure (a
// nixos-rebuild switch, a rollback, a reboot into another generation), as
// the store's absolute paths.
var nixLinks = []string{"/nix/var/nix/profiles/system", "/run/current-system", "/run/booted-system"}

// nixRootsOf returns the targets of the system links under the store's
// root, read without following them: "" when [nix] is off.
func nixRootsOf(c *config.Config) string {
	if on, _ := engine.NixEnabled(c); !on {
		return ""
	}
	var b strings.Builder
	for _, l := range nixLinks {
		t, _ := os.Readlink(filepath.Join(c.Nix.RootDir(), l)) // a missing link reads as ""
		b.WriteString(t + "\x00")
	}
	return b.String()
}

// nixMoved reports whether the system links moved since it was last
// called (and at the first call, when [nix] is on): the store is checked
// then.
func (v *verifier) nixMoved(c *config.Config) bool {
	now := nixRootsOf(c)
	moved := now != v.nix.roots
	v.nix.roots = now
	return moved && now != ""
}

// nixOnly runs the Nix job: the store checked through the engine (after
// the trust decision run took) against the snapshot the current baseline
// records, with the keyed sample of the daemon's whole checks; an event
// for each finding, and the Nix findings no longer found resolved. With
// no snapshot in the baseline, or a snapshot file that is not the
// baseline's (a change the whole checks report), nothing is checked.
func (v *verifier) nixOnly(ctx context.Context, db *store.DB, info store.Info, phase string, start time.Time) ([]alerts.Event, error) {
	res, err := v.eng.CheckNix(ctx, db, engine.NixRequest{
		SampleFile: engine.WatchSamplePath(v.dbPath), Last: v.nix.last, SealedOnly: true})
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Tampered, store.ErrTampered) {
		// The Nix tree's records are not the ones the seal signs: no
		// whole check shows it, so it is an event of its own.
		ev := alerts.Tampered(res.Tampered, v.host, start)
		ev.Event.Action = "nix_snapshot_changed"
		ev.SetPhase(phase)
		c := &collect{v: v, scope: scopeOf(info), seen: map[string]bool{}, now: start, phase: phase}
		c.add(nixPrefix+"nix_snapshot_changed", ev)
		return c.out, nil
	}
	if res.Tampered != nil {
		v.log.Warn().Err(res.Tampered).Msg("the Nix snapshot is not the baseline's: the Nix store was not checked")
		return nil, nil
	}
	if res.Off || !res.Sealed {
		return nil, nil
	}
	if res.Sample != nil {
		v.nix.last = res.Sample.Check
	}
	c := &collect{v: v, scope: scopeOf(info), seen: map[string]bool{}, now: start, phase: phase}
	for _, f := range res.Findings {
		ev := alerts.Nix(alerts.NixFinding{Action: string(f.Kind), Severity: f.Kind.Severity(), Path: f.Path, Message: f.Message()},
			v.host, start)
		ev.SetPhase(phase)
		c.add(nixPrefix+string(f.Kind)+":"+f.Path, ev)
	}
	c.resolveGone(nixPrefix)
	v.log.Info().Int("paths", len(res.Report.Paths)).Int("hashed", res.Report.Hashed).Int("findings", len(res.Findings)).
		Msg("Nix store checked")
	return c.out, nil
}
