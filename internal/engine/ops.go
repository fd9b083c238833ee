package engine

import (
	"context"
	"errors"
	"fmt"

	"vigil/merkle"
	"vigil/store"
)

// Init takes a first baseline of the configured roots (or of o.Paths),
// hashing every file, and makes it current.
func Init(ctx context.Context, db *store.DB, o Options) (Result, error) {
	roots, err := Preflight(o, db.Path())
	if err != nil {
		return Result{}, err
	}
	var parent uint64
	switch cur, err := db.Current(); {
	case err == nil && !o.Force:
		return Result{}, ErrExists
	case err == nil:
		parent = cur.Info().ID
	case !errors.Is(err, store.ErrNoBaseline):
		return Result{}, err
	}
	return write(ctx, db, o, "init", parent, roots, nil, nil)
}

// Update scans o.Paths (or, with none, the baseline's roots), reports what
// changed since the current baseline, and records the result as the new
// current baseline. Recorded entries outside o.Paths are carried over. It
// writes nothing if nothing changed, and refuses a baseline that fails its
// integrity check.
func Update(ctx context.Context, db *store.DB, o Options) (Result, error) {
	cur, err := db.Current()
	if err != nil {
		return Result{}, err
	}
	info := cur.Info()
	// The baseline's roots, not the configuration's: what was sealed is
	// what is updated; other roots take a new baseline (init --force).
	roots, keep := info.Roots, func(*merkle.Entry) bool { return false }
	if len(o.Paths) > 0 {
		if err := within(o.Paths, info.Roots); err != nil {
			return Result{}, err
		}
		roots, keep = o.Paths, outside(o.Paths)
	}
	return write(ctx, db, o, "update", info.ID, roots, cur, keep)
}

// outside returns whether an entry lies outside every path.
func outside(paths []string) func(*merkle.Entry) bool {
	return func(e *merkle.Entry) bool {
		for _, p := range paths {
			if merkle.Within(e.Path, p) {
				return false
			}
		}
		return true
	}
}

// write scans roots merged with old (nil for none) and writes the result as
// a new baseline.
func write(ctx context.Context, db *store.DB, o Options, cmd string, parent uint64, roots []string, old *store.Baseline, keep func(*merkle.Entry) bool) (Result, error) {
	m, err := o.Config.Matcher()
	if err != nil {
		return Result{}, err
	}
	if err := checkDBOutside(db.Path(), roots, m.Match); err != nil {
		return Result{}, err
	}
	o.reportMissing(roots)
	sopts := o.scanOptions(m)
	var res Result
	p := &pass{opts: &o, res: &res, keepOld: keep}
	var it *store.Iter
	sopts.Ancestors = true
	if old != nil {
		res.Baseline, res.OldRoot = old.Info(), merkle.Hash(old.Info().Root)
		it = old.Iter()
		p.verify = store.NewVerifier(old.Info(), true)
		if !o.Full {
			sopts.Cache = old.Cache()
		}
		// A scoped update keeps the recorded ancestors.
		sopts.Ancestors = len(o.Paths) == 0
	}
	w, err := db.Create(store.Info{
		Created: o.now().UTC(), Command: cmd, Parent: parent, Host: o.hostname(),
		Roots: rootsOf(old, o, roots), ConfigDigest: o.Config.Digest(), Version: o.Version,
	})
	if err != nil {
		return res, err
	}
	p.build = merkle.NewBuilder(w.Add)
	err = p.run(ctx, roots, sopts, it)
	if err == nil && res.Tampered != nil {
		err = fmt.Errorf("%w: %w", store.ErrTampered, res.Tampered)
	}
	if err == nil {
		res.NewRoot, err = p.build.Finish()
	}
	if err == nil && old != nil && res.NewRoot == res.OldRoot && old.Info().ConfigDigest == o.Config.Digest() {
		return res, w.Abort() // nothing to accept
	}
	if err != nil {
		return res, errors.Join(err, w.Abort())
	}
	info, err := w.Commit(res.NewRoot, o.Config.Keep)
	if err != nil {
		return res, err
	}
	res.Baseline, res.Written = info, true
	return res, nil
}

// rootsOf returns the roots the new baseline covers.
func rootsOf(old *store.Baseline, o Options, roots []string) []string {
	if old != nil && len(o.Paths) > 0 {
		return old.Info().Roots
	}
	return roots
}

// Check compares the host with the current baseline: the subtrees at o.Paths,
// or the baseline's roots. It writes nothing.
func Check(ctx context.Context, db *store.DB, o Options) (Result, error) {
	cur, err := db.Current()
	if err != nil {
		return Result{}, err
	}
	info := cur.Info()
	res := Result{Baseline: info, OldRoot: merkle.Hash(info.Root)}
	roots, whole := info.Roots, len(o.Paths) == 0
	if !whole {
		if err := within(o.Paths, info.Roots); err != nil {
			return res, err
		}
		roots = o.Paths
	}
	if !whole {
		res.Scopes = roots
	}
	m, err := o.Config.Matcher()
	if err != nil {
		return res, err
	}
	sopts := o.scanOptions(m)
	if !o.Full {
		sopts.Cache = cur.Cache()
	}
	p := &pass{opts: &o, res: &res, verify: store.NewVerifier(info, whole)}
	var it *store.Iter
	if whole {
		sopts.Ancestors = true
		p.build = merkle.NewBuilder(nil)
		it = cur.Iter()
	} else {
		it = cur.Iter(o.Paths...)
	}
	if err := p.run(ctx, roots, sopts, it); err != nil {
		return res, err
	}
	if p.build != nil {
		if res.NewRoot, err = p.build.Finish(); err != nil {
			return res, err
		}
	}
	return res, nil
}
