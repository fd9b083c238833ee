package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"vigil/internal/config"
	"vigil/merkle"
	"vigil/store"
)

// updateScoped updates the subtrees at o.Paths of the current baseline: it
// scans them merged with their recorded subtrees, writes what differs, then
// recomputes the directories above them from their recorded (and verified)
// children. It costs the subtrees' scan plus the fan-out of their
// ancestors, not the baseline's size.
func updateScoped(ctx context.Context, db *store.DB, o Options, cur *store.Baseline) (Result, error) {
	return scoped(ctx, db, o, cur, &plan{scopes: merkle.Outermost(o.Paths)}, true)
}

// plan is what a scoped pass looks at: subtrees (scopes) scanned whole and
// merged with their records, and directories (shallow) whose own entry is
// read again, with the attributes given, while their children come from
// the records or from the scopes below them.
type plan struct {
	scopes  []string
	shallow map[string]merkle.Attr
	// method and snapshots are what a Btrfs plan ran and the snapshots a
	// baseline it writes records.
	method    string
	snapshots []store.Snapshot
}

// scoped runs the plan against the current baseline: it reports what
// changed and, with write, records the result as a new baseline that
// stores only the differences. The directories above the scopes, and the
// shallow ones, are recomputed from their recorded and verified children,
// so that the new root hash is exact.
func scoped(ctx context.Context, db *store.DB, o Options, cur *store.Baseline, pl *plan, write bool) (Result, error) {
	info := cur.Info()
	scopes := pl.scopes
	m, err := o.matcher(info.Roots)
	if err != nil {
		return Result{}, err
	}
	if write {
		if err := checkDBOutside(db.Path(), scopes, m.Match); err != nil {
			return Result{}, err
		}
		o.reportMissing(scopes)
	}
	sopts := o.scanOptions(m)
	sopts.Ancestors = true // new directories above a scope are recorded
	if !o.Full {
		sopts.Cache = cur.Cache()
	}
	sopts.RootDevs = rootDevs(scopes, info.Roots)
	res := Result{Baseline: info, OldRoot: merkle.Hash(info.Root), Scopes: scopes, Method: pl.method}
	p := &pass{
		opts: &o, res: &res, verify: store.NewVerifier(info, false),
		dirHash: map[*merkle.Entry]merkle.Hash{}, scopes: scopes, anc: map[string]*merkle.Entry{},
		shallow: pl.shallow,
	}
	var w *store.Writer
	cmd := "update"
	if write {
		if o.Command != "" {
			cmd = o.Command
		}
		ninfo := store.Info{
			Created: o.now().UTC(), Command: cmd, Parent: info.ID, Host: o.hostname(),
			Roots: info.Roots, ConfigDigest: o.Config.Digest(), Version: o.Version,
			Reason: o.Reason, User: o.User, UID: int64(os.Getuid()), Snapshots: pl.snapshots,
		}
		if pl.snapshots == nil {
			// Outside the scopes nothing was accepted: the next check
			// searches from where this baseline's parent did.
			ninfo.Snapshots = info.Snapshots
		}
		if err := o.auditBase(db, &ninfo); err != nil {
			return res, err
		}
		if ninfo.Posture, err = o.newPosture(ctx, cur); err != nil {
			return res, err
		}
		if w, err = db.CreateDelta(ninfo, cur); err != nil {
			return res, err
		}
		p.w, p.delta = w, true
	}
	if p.keep = newKeeper(&o, m, db, info.ID); p.keep != nil {
		p.keep.oldSnaps = info.Snapshots
		if w != nil {
			p.keep.w, p.keep.keptSnaps = w, w.Pending(merkle.Hash{}).Snapshots
		}
	}
	f := &forest{emit: p.emit, roots: map[string]merkle.Node{}}
	p.build = f
	if len(scopes) > 0 {
		err = p.run(ctx, scopes, sopts, cur.Iter(scopes...))
	}
	if err == nil {
		err = f.finish()
	}
	if err == nil && res.Tampered != nil {
		err = fmt.Errorf("%w: %w", store.ErrTampered, res.Tampered)
	}
	if err == nil {
		err = p.fullParents(ctx, info.Roots, m)
	}
	if err == nil {
		res.NewRoot, err = p.reparent(ctx, cur, f.roots)
	}
	if err == nil {
		err = p.flushHeld()
	}
	if !write {
		return res, err
	}
	if err == nil && pl.snapshots != nil && (p.declined || res.Errors > 0) {
		// What was turned down or could not be read is looked at again
		// only by a search from before it: keep the old snapshots.
		w.SetSnapshots(info.Snapshots)
	}
	if err == nil {
		err = p.nixTree(w, cur)
	}
	return commit(w, o, res, err, true, cmd)
}

// rootDevs gives each scope the device of the baseline root holding it: a
// scope on another filesystem (a mount point, a nested Btrfs subvolume)
// is then recorded, not descended into, as a walk of the root records it.
func rootDevs(scopes, roots []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range scopes {
		for _, r := range roots {
			if !merkle.Within(s, r) || s == r {
				continue
			}
			var st unix.Stat_t
			if err := unix.Lstat(r, &st); err == nil {
				out[s] = uint64(st.Dev) // int32 on darwin
			}
		}
	}
	return out
}

// fullParents replaces each directory the scan found above the scopes that
// lies inside a baseline root with what a scan of it records (its rule's
// attributes, flags and xattrs), rather than what is recorded of the
// directories above a root: if it is new, it is recorded as a check will
// see it.
func (p *pass) fullParents(ctx context.Context, roots []string, m *config.Matcher) error {
	for path := range p.anc {
		if !insideAny(path, roots) {
			continue
		}
		attrs, excluded := m.Match(path)
		if excluded {
			return fmt.Errorf("%s: %w (it is excluded)", path, errNoParent)
		}
		e, err := ScanPath(ctx, path, attrs)
		if err != nil {
			return err
		}
		p.anc[path] = e
	}
	return nil
}

// reparent recomputes the directories above the scopes, deepest first, from
// their recorded children with the scopes' new nodes (roots) put in, writes
// those that changed, and returns the new root hash. Each directory read is
// verified against its stored hash and the root against the baseline's, so
// that nothing outside the scopes is trusted unverified.
func (p *pass) reparent(ctx context.Context, cur *store.Baseline, roots map[string]merkle.Node) (merkle.Hash, error) {
	updated := map[string]*merkle.Node{} // nil: removed
	dirs := map[string]bool{}
	for d := range p.shallow {
		for ; d != ""; d = merkle.Parent(d) {
			dirs[d] = true
		}
	}
	if len(p.shallow) > 0 {
		var err error
		p.fresh, err = scanPaths(ctx, slices.Collect(maps.Keys(p.shallow)), func(d string) merkle.Attr { return p.shallow[d] })
		if err != nil {
			return merkle.Hash{}, fmt.Errorf("%w: %w", errRace, err)
		}
	}
	for _, s := range p.scopes {
		if n, ok := roots[s]; ok {
			updated[s] = &n
		} else {
			updated[s] = nil
		}
		for d := merkle.Parent(s); d != ""; d = merkle.Parent(d) {
			dirs[d] = true
		}
	}
	order := make([]string, 0, len(dirs))
	for d := range dirs {
		order = append(order, d)
	}
	slices.SortFunc(order, func(a, b string) int { return depth(b) - depth(a) })
	for _, d := range order {
		self, kids, err := cur.Dir(d)
		if err != nil {
			return merkle.Hash{}, err
		}
		old := self.Entry
		if old == nil {
			if self.Entry = p.anc[d]; self.Entry == nil {
				return merkle.Hash{}, fmt.Errorf("%s: %w", d, errNoParent)
			}
		} else if old.Type != merkle.TypeDir {
			return merkle.Hash{}, fmt.Errorf("%s: recorded as a %s: update it instead: %w", d, old.Type, errNoParent)
		}
		if d == "/" && old != nil && self.Hash != merkle.Hash(cur.Info().Root) {
			return merkle.Hash{}, fmt.Errorf("/: %w", store.ErrTampered)
		}
		fresh := false
		if a, ok := p.shallow[d]; ok && old != nil {
			e, err := p.reread(ctx, old, a)
			if err != nil {
				return merkle.Hash{}, err
			}
			fresh, self.Entry = e != old, e
		}
		h := merkle.NewDirHasher(self.Entry)
		for _, k := range mergeChildren(d, kids, updated) {
			h.Add(k.Hash)
		}
		n := merkle.Node{Entry: self.Entry, Hash: h.Sum()}
		updated[d] = &n
		switch {
		case old == nil && p.w == nil && len(p.opts.Paths) > 0 && !insideAny(d, p.opts.Paths):
			// A check of paths (filtered Btrfs plan) reports what lies in
			// them, as their walk does: a new directory above is not.
		case old == nil:
			p.held = append(p.held, merkle.Change{Action: merkle.Created, Path: d, New: self.Entry})
			p.res.Entries++
		case n.Hash == self.Hash && !fresh:
			continue
		}
		if p.w == nil {
			continue
		}
		if err := p.w.Put(n, old); err != nil {
			return merkle.Hash{}, err
		}
	}
	if r := updated["/"]; r != nil {
		return r.Hash, nil
	}
	return merkle.Hash{}, errors.New("scoped update: no root directory")
}

// mergeChildren returns dir's recorded children with the updated nodes
// below dir put in their place (or dropped, where nil), in name order.
func mergeChildren(dir string, kids []merkle.Node, updated map[string]*merkle.Node) []merkle.Node {
	out := make([]merkle.Node, 0, len(kids)+1)
	for _, k := range kids {
		if n, ok := updated[k.Entry.Path]; ok {
			if n != nil {
				out = append(out, *n)
			}
			continue
		}
		out = append(out, k)
	}
	seen := map[string]bool{}
	for _, k := range kids {
		seen[k.Entry.Path] = true
	}
	for p, n := range updated {
		if n != nil && !seen[p] && merkle.Parent(p) == dir {
			out = append(out, *n)
		}
	}
	slices.SortFunc(out, func(a, b merkle.Node) int { return merkle.ComparePaths(a.Entry.Path, b.Entry.Path) })
	return out
}

// reread takes directory old's own entry as read again and reports how
// it changed; it returns old itself when nothing monitored did, or when
// the change was turned down.
func (p *pass) reread(ctx context.Context, old *merkle.Entry, attrs merkle.Attr) (*merkle.Entry, error) {
	e := p.fresh[old.Path]
	if e == nil {
		return nil, fmt.Errorf("%s: %w: gone", old.Path, errRace)
	}
	if e.Type != merkle.TypeDir {
		return nil, fmt.Errorf("%s: %w: no longer a directory", old.Path, errRace)
	}
	c, changed := merkle.Modified(old, e)
	if !changed {
		return old, nil
	}
	if p.opts.Accept != nil && p.w != nil {
		ok, err := p.opts.Accept(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			p.declined = true
			return old, nil
		}
	}
	p.res.Changed++
	return e, p.report(c)
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// insideAny reports whether p lies in one of dirs.
func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if merkle.Within(p, d) {
			return true
		}
	}
	return false
}

// forest builds one tree per scope: the scan hands it the scopes' subtrees
// one after the other.
type forest struct {
	emit  func(merkle.Node) error
	b     *merkle.Builder
	root  string
	roots map[string]merkle.Node // each scope root's finished node
}

func (f *forest) Add(e *merkle.Entry) error {
	if f.b == nil || !merkle.Within(e.Path, f.root) {
		if err := f.finish(); err != nil {
			return err
		}
		root := e.Path
		f.root = root
		f.b = merkle.NewBuilder(func(n merkle.Node) error {
			if n.Entry.Path == root {
				f.roots[root] = n
			}
			return f.emit(n)
		})
	}
	return f.b.Add(e)
}

func (f *forest) finish() error {
	if f.b == nil {
		return nil
	}
	_, err := f.b.Finish()
	f.b = nil
	return err
}
