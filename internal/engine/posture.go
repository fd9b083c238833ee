package engine

import (
	"context"
	"fmt"
	"os"
	"slices"

	"vigil/internal/config"
	"vigil/internal/posture"
	"vigil/merkle"
	"vigil/store"
)

// Posture returns the posture collector and the checks of cfg's profile
// (with the configured profile file and exposure threshold), or a nil
// collector when cfg does not enable the posture.
func Posture(cfg *config.Config) (*posture.Collector, []posture.Check, error) {
	checks, err := PostureChecks(cfg, cfg.PostureProfile())
	if err != nil || !cfg.Posture.Enable {
		return nil, checks, err
	}
	return posture.NewCollector(postureOptions(cfg)), checks, nil
}

// postureOptions are the collector's options of cfg's [posture].
func postureOptions(cfg *config.Config) posture.Options {
	p := cfg.Posture
	return posture.Options{Sysctls: p.ExtraSysctls, Mounts: p.Mounts, Units: p.Units, Disable: p.Disable, Lynis: p.Lynis}
}

// PostureChecks returns the checks of profile: the embedded profiles,
// extended by cfg's posture.profile_file, with cfg's max_exposure.
func PostureChecks(cfg *config.Config, profile string) ([]posture.Check, error) {
	profiles := posture.DefaultProfiles()
	if f := cfg.Posture.ProfileFile; f != "" {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		more, err := posture.ParseProfiles(f, text)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", config.ErrInvalid, err)
		}
		profiles = profiles.Extend(more)
	}
	checks, err := profiles.For(profile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrInvalid, err)
	}
	if m := cfg.Posture.MaxExposure; m > 0 {
		for i := range checks {
			if checks[i].ID == "service_exposure" {
				checks[i].Expect = map[string]string{profile: fmt.Sprintf("<= %g", m)}
			}
		}
	}
	return checks, nil
}

// collectPosture collects the posture for a new baseline: nil when the
// posture is not enabled.
func (o *Options) collectPosture(ctx context.Context) (*store.Posture, error) {
	if o.Posture == nil {
		return nil, nil
	}
	items, err := o.Posture.Collect(ctx)
	if err != nil {
		return nil, err
	}
	root, err := posture.Root(items)
	if err != nil {
		return nil, err
	}
	p := &store.Posture{Root: store.RootHash(root), Items: make([]store.PostureItem, len(items))}
	for i, it := range items {
		p.Items[i] = store.PostureItem(it)
	}
	return p, nil
}

// newPosture is the posture a new baseline records: none when the posture
// is not enabled; old's (nil: none) when only some subtrees or some
// reviewed changes are accepted (a scoped update, Options.Accept); else
// the live posture, collected now: a whole update or reseal accepts the
// posture as it accepts the files.
func (o *Options) newPosture(ctx context.Context, old *store.Baseline) (*store.Posture, error) {
	if o.Posture == nil {
		return nil, nil
	}
	if old != nil && (o.Accept != nil || (len(o.Paths) > 0 && !slices.Contains(o.Paths, "/"))) {
		return old.Info().Posture, nil
	}
	return o.collectPosture(ctx)
}

// postureItems returns the items recorded in p, verified against the root
// the baseline's statement signs: a mismatch is [store.ErrTampered].
func postureItems(p *store.Posture) ([]posture.Item, error) {
	items := make([]posture.Item, len(p.Items))
	for i, it := range p.Items {
		items[i] = posture.Item(it)
	}
	root, err := posture.Root(items)
	if err != nil {
		return nil, fmt.Errorf("%w: posture: %w", store.ErrTampered, err)
	}
	if store.RootHash(root) != p.Root {
		return nil, fmt.Errorf("%w: posture items hash to %x, the baseline records %s", store.ErrTampered, root, p.Root)
	}
	return items, nil
}

// postureRoot is the root of p, zero for none.
func postureRoot(p *store.Posture) merkle.Hash {
	if p == nil {
		return merkle.Hash{}
	}
	return merkle.Hash(p.Root)
}

// checkPosture compares the live posture with the one the baseline
// recorded (a whole check only, and only where both exist): the changes
// go to res.Posture, with the severity of their check in the hardened
// phase and "info" in setup. Recorded items that fail their root are
// res.Tampered.
func (o *Options) checkPosture(ctx context.Context, res *Result) error {
	rec := res.Baseline.Posture
	if o.Posture == nil || rec == nil || len(o.Paths) > 0 {
		return nil
	}
	old, err := postureItems(rec)
	if err != nil {
		res.Tampered = joinTampered(res.Tampered, err)
		return nil
	}
	cur, err := o.Posture.Collect(ctx)
	if err != nil {
		return err
	}
	res.Posture = posture.Compare(old, cur, o.PostureChecks)
	if o.Phase != PhaseHardened {
		for i := range res.Posture {
			res.Posture[i].Severity = "info"
		}
	}
	return nil
}

func joinTampered(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}

// diffPosture puts in res.Posture the posture changes from baseline a to
// b, where both record one, each side verified against its root.
func diffPosture(a, b store.Info, checks []posture.Check, res *Result) error {
	if a.Posture == nil || b.Posture == nil || a.Posture.Root == b.Posture.Root {
		return nil
	}
	old, err := postureItems(a.Posture)
	if err != nil {
		return fmt.Errorf("baseline %d: %w", a.ID, err)
	}
	cur, err := postureItems(b.Posture)
	if err != nil {
		return fmt.Errorf("baseline %d: %w", b.ID, err)
	}
	res.Posture = posture.Compare(old, cur, checks)
	return nil
}

// CollectPosture collects the live posture: with the configured collector,
// or, where the configuration does not enable the posture, with one of the
// configured options (what `vigil posture` reports on any host); lynis
// runs lynis too (vigil posture --lynis).
func (e *Engine) CollectPosture(ctx context.Context, lynis bool) ([]posture.Item, error) {
	c := e.posture
	if c == nil || (lynis && !e.cfg.Posture.Lynis) {
		o := postureOptions(e.cfg)
		o.Lynis = o.Lynis || lynis
		c = posture.NewCollector(o)
	}
	return c.Collect(ctx)
}

// RecordedPosture returns the posture the current baseline of db records,
// verified against the root its statement carries (nil items: it records
// none). Callers take the trust decision ([Engine.Trust]) first.
func (e *Engine) RecordedPosture(db *store.DB) ([]posture.Item, store.Info, error) {
	cur, err := db.Current()
	if err != nil {
		return nil, store.Info{}, err
	}
	info := cur.Info()
	if info.Posture == nil {
		return nil, info, nil
	}
	items, err := postureItems(info.Posture)
	return items, info, err
}

// CheckPosture compares the live posture with the one the current baseline
// recorded, and nothing else (the watch daemon's posture timer): the
// changes go to Result.Posture as [Check] puts them, a recorded posture
// that fails its root to Result.Tampered. Callers take the trust decision
// ([Engine.Trust]) first; without an enabled posture it finds nothing.
func (e *Engine) CheckPosture(ctx context.Context, db *store.DB, r Request) (Result, error) {
	cur, err := db.Current()
	if err != nil {
		return Result{}, err
	}
	info := cur.Info()
	res := Result{Baseline: info, OldRoot: merkle.Hash(info.Root), NewRoot: merkle.Hash(info.Root)}
	o := e.options(r, nil)
	o.Paths = nil
	return res, o.checkPosture(ctx, &res)
}
