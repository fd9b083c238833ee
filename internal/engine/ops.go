package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

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
	return write(ctx, db, o, "init", parent, roots, nil)
}

// Seal takes a whole new baseline of the configured roots (or of o.Paths),
// rereading every file, signs its statement with o.Signer (none leaves it
// unsigned, for a signature made elsewhere: see [Statement]) and makes it
// current, with its record in the audit log.
func Seal(ctx context.Context, db *store.DB, o Options) (Result, error) {
	roots, err := Preflight(o, db.Path())
	if err != nil {
		return Result{}, err
	}
	var parent uint64
	switch cur, err := db.Current(); {
	case err == nil:
		parent = cur.Info().ID
	case !errors.Is(err, store.ErrNoBaseline):
		return Result{}, err
	}
	o.Full, o.Command, o.Phase = true, "seal", PhaseHardened
	return write(ctx, db, o, "seal", parent, roots, nil)
}

// Reseal is [Update] in the hardened phase: it accepts planned changes and
// signs the new baseline's statement with o.Signer.
func Reseal(ctx context.Context, db *store.DB, o Options) (Result, error) {
	o.Command, o.Phase = "reseal", PhaseHardened
	return Update(ctx, db, o)
}

// Update scans o.Paths (or, with none, the baseline's roots), reports what
// changed since the current baseline, and records the result as the new
// current baseline, which stores only what changed. Recorded entries outside
// o.Paths are carried over: a scoped update reads and hashes only its
// subtrees and the directories above them. It writes nothing if nothing
// changed, and refuses a baseline that fails its integrity check.
func Update(ctx context.Context, db *store.DB, o Options) (Result, error) {
	return withSample(ctx, db, o, update)
}

func update(ctx context.Context, db *store.DB, o Options) (Result, error) {
	if o.Phase == PhaseHardened && o.Command != "reseal" {
		return Result{}, ErrHardened
	}
	cur, err := db.Current()
	if err != nil {
		return Result{}, err
	}
	info := cur.Info()
	if len(o.Paths) > 0 {
		if err := within(o.Paths, info.Roots); err != nil {
			return Result{}, err
		}
		if !slices.Contains(o.Paths, "/") {
			return updateScoped(ctx, db, o, cur)
		}
	}
	if !o.Full && !o.Scan {
		if res, ok, err := updateBtrfs(ctx, db, o, cur); ok {
			return res, err
		}
	}
	// The baseline's roots, not the configuration's: what was sealed is
	// what is updated; other roots take a new baseline (init --force).
	return write(ctx, db, o, "update", info.ID, info.Roots, cur)
}

// write scans roots merged with old (nil for none) and writes the result as
// a new baseline: whole for init, the differences from old for update.
func write(ctx context.Context, db *store.DB, o Options, cmd string, parent uint64, roots []string, old *store.Baseline) (Result, error) {
	m, err := o.matcher(roots)
	if err != nil {
		return Result{}, err
	}
	if err := checkDBOutside(db.Path(), roots, m.Match); err != nil {
		return Result{}, err
	}
	o.reportMissing(roots)
	sopts := o.scanOptions(m)
	sopts.Ancestors = true
	var res Result
	p := &pass{opts: &o, res: &res}
	var it *store.Iter
	info := store.Info{
		Created: o.now().UTC(), Command: cmd, Parent: parent, Host: o.hostname(),
		Roots: roots, ConfigDigest: o.Config.Digest(), Version: o.Version,
		Reason: o.Reason, User: o.User, UID: int64(os.Getuid()),
	}
	if o.Command != "" {
		cmd, info.Command = o.Command, o.Command
	}
	// The snapshots come before the scan: whatever changes while it runs
	// is newer than them, so the next check looks at it again.
	info.Snapshots = o.takeSnapshots(db.Path(), roots)
	defer pruneSnapshots(db, &o, info.Snapshots)
	sopts.Source, sopts.DevMap = snapshotSource(info.Snapshots)
	if err := o.auditBase(db, &info); err != nil {
		return Result{}, err
	}
	if info.Posture, err = o.newPosture(ctx, old); err != nil {
		return Result{}, err
	}
	var w *store.Writer
	if old != nil {
		res.Method = MethodScan
		if o.Full {
			res.Method = MethodFull
		}
		res.Baseline, res.OldRoot = old.Info(), merkle.Hash(old.Info().Root)
		it = old.Iter()
		p.verify = store.NewVerifier(old.Info(), true)
		if !o.Full {
			sopts.Cache = old.Cache()
		}
		p.delta, p.dirHash = true, map[*merkle.Entry]merkle.Hash{}
		w, err = db.CreateDelta(info, old)
	} else {
		w, err = db.Create(info)
	}
	if err != nil {
		return res, err
	}
	p.w = w
	var oldID uint64
	if old != nil {
		oldID = old.Info().ID
	}
	if p.keep = newKeeper(&o, m, db, oldID); p.keep != nil {
		p.keep.w, p.keep.keptSnaps = w, info.Snapshots
		if old != nil {
			p.keep.oldSnaps = old.Info().Snapshots
		}
	}
	b := merkle.NewBuilder(p.emit)
	// The portable tree (what another host's copy would keep) is built in
	// the same pass, from the same entries.
	tee := newPortableTee(b, merkle.PortableAttrs, o.Config.Fleet.HostSpecificPaths())
	p.build = tee
	err = p.run(ctx, roots, sopts, it)
	if err == nil && res.Tampered != nil {
		err = fmt.Errorf("%w: %w", store.ErrTampered, res.Tampered)
	}
	if err == nil {
		res.NewRoot, err = b.Finish()
	}
	if err == nil {
		var pr merkle.Hash
		pr, err = tee.portable.Finish()
		w.SetPortableRoot(pr)
	}
	if err == nil && old != nil && (p.declined || res.Errors > 0) {
		// What was turned down or could not be read is looked at again
		// only by a search from before it: keep the old snapshots.
		w.SetSnapshots(old.Info().Snapshots)
	}
	if err == nil {
		err = p.nixTree(w, old)
	}
	return commit(w, o, res, err, old != nil, cmd)
}

// auditBase records in a new baseline's info the phase, the audit log it
// follows and the error counters of the Btrfs devices under its roots.
func (o *Options) auditBase(db *store.DB, info *store.Info) error {
	t, err := db.Audit()
	if err != nil {
		return err
	}
	if info.DevStats, err = DeviceStats(info.Roots); err != nil {
		return err
	}
	info.Phase, info.AuditSize = o.Phase, t.N
	if t.N > 0 {
		info.AuditRoot = t.Hash.String()
	}
	return nil
}

// commit commits w with res.NewRoot unless err is set or, for an update,
// nothing changed: then it abandons w. The commit carries the baseline's
// audit record and, with a signer, its signed statement.
func commit(w *store.Writer, o Options, res Result, err error, update bool, cmd string) (Result, error) {
	if err == nil && update && res.NewRoot == res.OldRoot && postureRoot(w.Pending(res.NewRoot).Posture) == postureRoot(res.Baseline.Posture) &&
		sameNixTree(w.Pending(res.NewRoot).Nix, res.Baseline.Nix) {
		return res, w.Abort() // nothing to accept
	}
	var s store.Sealing
	if err == nil {
		old := ""
		if res.OldRoot != (merkle.Hash{}) {
			old = store.RootHash(res.OldRoot).String()
		}
		s, err = o.sealing(w.Pending(res.NewRoot), cmd, old)
	}
	if err != nil {
		return res, errors.Join(err, w.Abort())
	}
	info, err := w.CommitSealed(res.NewRoot, o.Config.Keep, s)
	if err != nil {
		return res, err
	}
	res.Baseline, res.Written = info, true
	return res, nil
}

// Check compares the host with the current baseline: the subtrees at o.Paths,
// or the baseline's roots. It writes nothing but the sample state file
// (Options.SampleFile).
func Check(ctx context.Context, db *store.DB, o Options) (Result, error) {
	res, err := withSample(ctx, db, o, check)
	if err == nil {
		err = o.checkPosture(ctx, &res)
	}
	return res, err
}

func check(ctx context.Context, db *store.DB, o Options) (Result, error) {
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
	m, err := o.matcher(info.Roots)
	if err != nil {
		return res, err
	}
	res.Method = MethodScan
	if o.Full {
		res.Method = MethodFull
	} else if !o.Scan {
		// The subtrees named too: the search costs what changed in their
		// subvolumes, then only what lies in them is read.
		if r, ok, err := checkBtrfs(ctx, db, o, cur, m, o.Paths); ok {
			return r, err
		}
	}
	sopts := o.scanOptions(m)
	if !o.Full {
		sopts.Cache = cur.Cache()
	}
	p := &pass{opts: &o, res: &res, verify: store.NewVerifier(info, whole), keep: newKeeper(&o, m, db, info.ID)}
	if p.keep != nil {
		p.keep.oldSnaps = info.Snapshots
	}
	var it *store.Iter
	var b *merkle.Builder
	if whole {
		sopts.Ancestors = true
		b = merkle.NewBuilder(nil)
		p.build = b
		it = cur.Iter()
	} else {
		it = cur.Iter(o.Paths...)
	}
	if err := p.run(ctx, roots, sopts, it); err != nil {
		return res, err
	}
	if !whole {
		// The scoped read is verified against the scopes' stored hashes;
		// those, and the records of absent scopes' parents, against the
		// root.
		res.Tampered = errors.Join(res.Tampered, cur.VerifyPaths(roots))
	}
	if b != nil {
		if res.NewRoot, err = b.Finish(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Diff compares baseline a (before) with b (after), descending only into
// subtrees whose node hashes differ, so that its cost grows with the
// differences, not with the tree. Every directory it reads is verified
// against the hash its parent holds for it and each root against its
// baseline's; a mismatch fails with [store.ErrTampered]. Changes reach
// o.Report in path order, creations and deletions paired into moves.
func Diff(ctx context.Context, a, b *store.Baseline, o Options) (Result, error) {
	res := Result{Baseline: b.Info(), OldRoot: merkle.Hash(a.Info().Root), NewRoot: merkle.Hash(b.Info().Root)}
	p := &pass{opts: &o, res: &res}
	if o.Config != nil {
		if m, err := o.Config.Matcher(); err == nil {
			if p.keep = newKeeper(&o, m, nil, a.Info().ID); p.keep != nil {
				p.keep.src, p.keep.stored = b, true
				p.keep.oldSnaps, p.keep.newSnaps = a.Info().Snapshots, b.Info().Snapshots
			}
		}
	}
	err := merkle.Diff(a, b, "/", func(c merkle.Change) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Entries++
		if c.Action == merkle.Created || c.Action == merkle.Deleted {
			p.held = append(p.held, c)
			return nil
		}
		res.Changed++
		return p.report(c)
	})
	if err != nil {
		return res, err
	}
	if err := diffPosture(a.Info(), b.Info(), o.PostureChecks, &res); err != nil {
		return res, err
	}
	if err := diffNix(a, b, &res); err != nil {
		return res, err
	}
	return res, p.flushHeld()
}
