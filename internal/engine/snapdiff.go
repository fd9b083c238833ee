package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/merkle"
	"vigil/scanner"
)

// ErrNotSnapshots says two paths given to DiffSnapshots are not Btrfs
// snapshots of one subvolume (or one and the subvolume it was taken of).
var ErrNotSnapshots = errors.New("not two btrfs snapshots of one subvolume")

// DiffSnapshots compares the Btrfs snapshot whose top directory is a
// (before) with b (after): two snapshots of one subvolume, b the newer, or
// a snapshot and the live subvolume it was taken of. It searches b's tree
// for the inodes changed since a was taken, so that its cost grows with
// the changes, not with the trees, then compares only those paths, the
// names their directories gained or lost, and the subtrees under such
// names, as a scan would read them. Paths are reported relative to the
// subvolume's top ("/etc/passwd" for a snapshot of "/"); changes reach
// o.Report as those of [Diff] do, in path order, moves paired. It needs
// CAP_SYS_ADMIN (the tree search and inode paths).
func DiffSnapshots(ctx context.Context, a, b string, o Options) (Result, error) {
	fa, err := btrfs.OpenDir(a)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fa)
	fb, err := btrfs.OpenDir(b)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fb)
	ia, err := btrfs.GetSubvolInfo(fa)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w: %w", a, ErrNotSnapshots, err)
	}
	ib, err := btrfs.GetSubvolInfo(fb)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w: %w", b, ErrNotSnapshots, err)
	}
	for _, p := range []struct {
		path string
		fd   int
	}{{a, fa}, {b, fb}} {
		var st unix.Stat_t
		if err := unix.Fstat(p.fd, &st); err != nil || st.Ino != btrfs.FirstFreeObjectID {
			return Result{}, fmt.Errorf("%s: %w: not a subvolume's top directory", p.path, ErrNotSnapshots)
		}
	}
	switch {
	case ia.ParentUUID == ib.UUID: // b is the live subvolume a was taken of
	case !ia.ParentUUID.IsZero() && ia.ParentUUID == ib.ParentUUID:
		if ib.OTransid < ia.OTransid {
			return Result{}, fmt.Errorf("%s was taken before %s: %w (give the older first)", b, a, ErrNotSnapshots)
		}
	default:
		return Result{}, fmt.Errorf("%s (of %s), %s (of %s): %w", a, ia.ParentUUID, b, ib.ParentUUID, ErrNotSnapshots)
	}
	if !ib.ReadOnly() {
		if err := btrfs.Syncfs(fb); err != nil {
			return Result{}, err
		}
	}
	d := &snapDiff{ctx: ctx, a: a, b: b, o: &o, res: &Result{Method: MethodBtrfs}}
	if err := d.plan(fb, ia.OTransid); err != nil {
		return *d.res, err
	}
	if err := d.run(); err != nil {
		return *d.res, err
	}
	return *d.res, nil
}

// snapDiff is one DiffSnapshots.
type snapDiff struct {
	ctx  context.Context
	a, b string
	o    *Options
	res  *Result
	// paths are compared entry against entry; trees on one side only.
	paths map[string]bool
	trees map[string]bool
	held  []merkle.Change
	out   []merkle.Change
	read  map[string]map[string]*merkle.Entry // per side, by logical path
}

// plan finds what to compare: the paths in b of the inodes changed since
// transaction since, and the names their directories gained or lost.
func (d *snapDiff) plan(fb int, since uint64) error {
	d.paths, d.trees = map[string]bool{}, map[string]bool{}
	defer d.dropOwn()
	var inodes []btrfs.Inode
	if err := btrfs.ChangedInodes(fb, 0, since, func(in btrfs.Inode) error {
		inodes = append(inodes, in)
		return nil
	}); err != nil {
		return err
	}
	for _, in := range inodes {
		rels := []string{""}
		if in.Ino != btrfs.FirstFreeObjectID {
			var err error
			if rels, err = btrfs.InoPaths(fb, in.Ino); err != nil {
				return err
			}
		}
		for _, rel := range rels {
			p := "/" + rel
			if rel == "" {
				p = "/"
			}
			d.paths[p] = true
			if in.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			nb, err := btrfs.ReadDirNames(d.b, relTo("/", p))
			if err != nil {
				return err
			}
			na, err := btrfs.ReadDirNames(d.a, relTo("/", p))
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
				continue // a new name: its parent lists it
			}
			if err != nil {
				return err
			}
			had := map[string]bool{}
			for _, n := range na {
				had[n] = true
			}
			for _, n := range nb {
				if !had[n] {
					d.trees[merkle.Join(p, n)] = true
				}
				delete(had, n)
			}
			for n := range had {
				d.trees[merkle.Join(p, n)] = true
			}
		}
	}
	return nil
}

// phys returns where logical path p of a snapshot lies under its top.
func (d *snapDiff) phys(top, p string) string {
	if p == "/" {
		return top
	}
	return top + p
}

// run compares what plan found and reports it.
func (d *snapDiff) run() error {
	trees := merkle.Outermost(slices.Collect(maps.Keys(d.trees)))
	var paths []string
	for _, p := range slices.SortedFunc(maps.Keys(d.paths), merkle.ComparePaths) {
		if !insideAny(p, trees) {
			paths = append(paths, p)
		}
	}
	paths = append(paths, trees...)
	// Both sides' entries, each side in one scan.
	if err := d.readBoth(paths); err != nil {
		return err
	}
	for _, p := range paths {
		if err := d.compare(p); err != nil {
			return err
		}
	}
	slices.SortStableFunc(d.out, func(x, y merkle.Change) int { return merkle.ComparePaths(x.Path, y.Path) })
	for _, c := range d.out {
		d.res.Changed++
		if err := d.report(c); err != nil {
			return err
		}
	}
	p := &pass{opts: d.o, res: d.res, held: d.held}
	return p.flushHeld()
}

func (d *snapDiff) report(c merkle.Change) error {
	return d.o.report().Change(c)
}

// compare compares path p on both sides: its own entry where both have
// it, the whole subtree where only one does.
func (d *snapDiff) compare(p string) error {
	ea, eb := d.read[d.a][p], d.read[d.b][p]
	switch {
	case ea != nil && eb != nil && ea.Type == eb.Type:
		if c, ok := merkle.Modified(ea, eb); ok {
			d.out = append(d.out, c)
		}
		return nil
	case ea != nil && eb != nil: // replaced by another type
		if ea.Type == merkle.TypeDir || eb.Type == merkle.TypeDir {
			if err := d.tree(d.a, p, merkle.Deleted); err != nil {
				return err
			}
			return d.tree(d.b, p, merkle.Created)
		}
		c, _ := merkle.Modified(ea, eb)
		d.out = append(d.out, c)
		return nil
	case ea != nil:
		return d.tree(d.a, p, merkle.Deleted)
	case eb != nil:
		return d.tree(d.b, p, merkle.Created)
	}
	return nil
}

// readBoth reads logical paths on both sides, into d.read.
func (d *snapDiff) readBoth(paths []string) error {
	d.read = map[string]map[string]*merkle.Entry{}
	for _, top := range []string{d.a, d.b} {
		phys := make([]string, len(paths))
		for i, p := range paths {
			phys[i] = d.phys(top, p)
		}
		got, err := scanPaths(d.ctx, phys, func(string) merkle.Attr { return merkle.AttrAll })
		if err != nil {
			return err
		}
		m := map[string]*merkle.Entry{}
		for _, e := range got {
			d.res.Entries++
			d.logical(e, top)
			m[e.Path] = e
		}
		d.read[top] = m
	}
	return nil
}

// logical names e by its path below top, and drops its device number,
// which differs between snapshots: what pairs moves is the inode.
func (d *snapDiff) logical(e *merkle.Entry, top string) {
	rel := strings.TrimPrefix(e.Path, top)
	if rel == "" {
		rel = "/"
	}
	e.Path, e.Dev = rel, 0
}

// tree reports every entry of the subtree at logical path p of the
// snapshot at top as action (Created or Deleted), held for move pairing.
func (d *snapDiff) tree(top, p string, action merkle.Action) error {
	opts := scanner.Options{OnError: func(path string, err error) error {
		return fmt.Errorf("%s: %w", path, err)
	}}
	return scanner.Scan(d.ctx, []string{d.phys(top, p)}, opts, func(e *merkle.Entry) error {
		d.res.Entries++
		d.logical(e, top)
		c := merkle.Change{Action: action, Path: e.Path}
		if action == merkle.Created {
			c.New = e
		} else {
			c.Old = e
		}
		d.held = append(d.held, c)
		return nil
	})
}

// dropOwn leaves vigil's own directories at the subvolume's top out of the
// comparison: the trusted snapshots (taken after A, they would bury the
// real changes under every entry they hold) and the quarantine.
func (d *snapDiff) dropOwn() {
	own := []string{"/" + config.DefaultSnapshotDir, "/" + btrfs.DefaultQuarantine}
	if d.o.Config != nil {
		if dir := d.o.Config.Btrfs.Dir(); !filepath.IsAbs(dir) {
			own = append(own, "/"+filepath.Clean(dir))
		}
	}
	for _, m := range []map[string]bool{d.paths, d.trees} {
		for p := range m {
			for _, o := range own {
				if merkle.Within(p, o) {
					delete(m, p)
				}
			}
		}
	}
}
