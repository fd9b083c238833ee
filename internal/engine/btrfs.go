package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/merkle"
	"vigil/store"
)

// How a check found what changed (vigil.summary.method).
const (
	// MethodBtrfs searched the Btrfs trees for what changed since the
	// baseline's snapshots and read only that.
	MethodBtrfs = "btrfs"
	// MethodScan walked the trees, trusting the stat cache.
	MethodScan = "scan"
	// MethodFull walked the trees and read every file.
	MethodFull = "full"
)

// maxBtrfsChanges bounds the inodes a Btrfs plan resolves: past it a walk
// with the stat cache costs less than resolving each one's paths.
const maxBtrfsChanges = 200_000

// snapshotDir returns the directory holding the trusted snapshots of the
// subvolume whose top directory is top.
func snapshotDir(c *config.Config, top string) string {
	d := c.Btrfs.Dir()
	if filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(top, d)
}

// btrfsTops returns, for each of roots that exists on Btrfs, the top
// directory of the subvolume holding it.
func btrfsTops(roots []string) map[string]string {
	out := map[string]string{}
	for _, r := range roots {
		if ok, err := btrfs.Is(r); err != nil || !ok {
			continue
		}
		if st, err := os.Lstat(r); err != nil || !st.IsDir() {
			continue
		}
		if top, err := btrfs.Top(r); err == nil {
			out[r] = top
		}
	}
	return out
}

// matcher is the configuration's matcher, excluding the snapshot and
// quarantine directories of the Btrfs subvolumes holding roots: they are
// vigil's, never part of a baseline.
func (o *Options) matcher(roots []string) (*config.Matcher, error) {
	m, err := o.Config.Matcher()
	if err != nil {
		return nil, err
	}
	var skip []string
	for _, top := range btrfsTops(roots) {
		for _, d := range []string{snapshotDir(o.Config, top), filepath.Join(top, btrfs.DefaultQuarantine)} {
			if !slices.Contains(skip, d) {
				skip = append(skip, d)
			}
		}
	}
	if len(skip) == 0 {
		return m, nil
	}
	return m.Skipping(skip...), nil
}

// takeSnapshots syncs and takes a read-only snapshot of each Btrfs
// subvolume holding one of roots, into its snapshot directory, and returns
// what the baseline records of them. A subvolume that cannot be snapshot
// (no privilege, a build without cgo) is reported to o.Report's Warn and left out:
// its roots are then checked by a scan.
func (o *Options) takeSnapshots(db string, roots []string) []store.Snapshot {
	if !o.Config.Btrfs.Snapshots {
		return nil
	}
	tops := btrfsTops(roots)
	byTop := map[string][]string{}
	for _, r := range roots {
		if t, ok := tops[r]; ok {
			byTop[t] = append(byTop[t], r)
		}
	}
	var out []store.Snapshot
	for _, top := range slices.Sorted(maps.Keys(byTop)) {
		s, err := o.snapshot(db, top, byTop[top])
		if err != nil {
			o.warn(top, fmt.Errorf("no trusted snapshot: its roots will be checked by a scan: %w", err))
			continue
		}
		out = append(out, s...)
	}
	return out
}

func (o *Options) warn(path string, err error) {
	o.report().Warn(path, err)
}

// snapshot takes the snapshot of the subvolume top for roots, for the
// database at db.
func (o *Options) snapshot(db, top string, roots []string) ([]store.Snapshot, error) {
	dir := snapshotDir(o.Config, top)
	if err := safeDir(dir); err != nil {
		return nil, err
	}
	// The quarantine of restores is made now, so that a restore does not
	// change the directory holding it.
	if err := safeDir(filepath.Join(top, btrfs.DefaultQuarantine)); err != nil {
		return nil, err
	}
	fd, err := btrfs.OpenDir(top)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := btrfs.Syncfs(fd); err != nil {
		return nil, fmt.Errorf("syncfs %s: %w", top, err)
	}
	live, err := btrfs.GetSubvolInfo(fd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", top, err)
	}
	name := dbTag(db) + "-" + o.now().UTC().Format(snapshotTime)
	path := filepath.Join(dir, name)
	if err := btrfs.Snapshot(top, path, true); err != nil {
		return nil, err
	}
	si, err := btrfs.Info(path)
	if err != nil {
		return nil, err
	}
	foreign, err := foreignDirs(fd, top, live.ID, roots, dir)
	if err != nil {
		return nil, err
	}
	out := make([]store.Snapshot, 0, len(roots))
	for _, r := range roots {
		var fr []string
		for _, f := range foreign {
			if merkle.Within(f, r) {
				fr = append(fr, f)
			}
		}
		out = append(out, store.Snapshot{
			Root: r, Top: top, Path: path, ID: si.ID, UUID: si.UUID.String(),
			OTransid: si.OTransid, CTransid: si.CTransid,
			LiveID: live.ID, LiveUUID: live.UUID.String(), Foreign: fr,
		})
	}
	return out, nil
}

// snapshotSource returns the scanner's Source and DevMap that read each
// root from its snapshot: one point in time, no race with writers, the
// entries named and numbered as in the live tree.
func snapshotSource(snaps []store.Snapshot) (map[string]string, map[uint64]uint64) {
	if len(snaps) == 0 {
		return nil, nil
	}
	src, devs := map[string]string{}, map[uint64]uint64{}
	for _, s := range snaps {
		var snap, live unix.Stat_t
		if unix.Lstat(s.Path, &snap) != nil || unix.Lstat(s.Top, &live) != nil {
			continue // read live
		}
		p := s.Path
		switch {
		case s.Root == s.Top:
		case s.Top == "/":
			p += s.Root
		default:
			p += strings.TrimPrefix(s.Root, s.Top)
		}
		src[s.Root], devs[uint64(snap.Dev)] = p, uint64(live.Dev) // int32 on darwin
	}
	return src, devs
}

// safeDir makes dir, root-only (0700), if it does not exist, and refuses
// one that is not a directory, or that others may enter or write, or that
// someone other than the running user owns.
func safeDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s: not a directory", dir)
	case st.Uid != uint32(os.Geteuid()):
		return fmt.Errorf("%s: owned by uid %d, not %d: %w", dir, st.Uid, os.Geteuid(), store.ErrUnsafe)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("%s: mode %04o, others may enter it: want 0700: %w", dir, st.Mode&0o7777, store.ErrUnsafe)
	}
	return nil
}

// foreignDirs returns the directories below roots on another device than
// the subvolume top (fd) holds: mount points and nested subvolumes, but
// for those in skip. A search of the subvolume's tree does not see into
// them, so a plan reads them again each time.
func foreignDirs(fd int, top string, id uint64, roots []string, skip string) ([]string, error) {
	var out []string
	add := func(p string) {
		if merkle.Within(p, skip) || slices.Contains(out, p) {
			return
		}
		for _, r := range roots {
			if merkle.Within(p, r) && p != r {
				out = append(out, p)
				return
			}
		}
	}
	mounts, err := mountPoints()
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		add(m)
	}
	// Nested subvolumes: the root tree's ROOT_REF items of this one.
	k := btrfs.Key{
		Tree: btrfs.RootTreeObjectID, MinObjectID: id, MaxObjectID: id, MinType: btrfs.TypeRootRef, MaxType: btrfs.TypeRootRef,
		MaxOffset: ^uint64(0), MaxTransid: ^uint64(0),
	}
	err = btrfs.Search(fd, k, func(it btrfs.Item) error {
		if it.Type != btrfs.TypeRootRef || len(it.Data) < 18 {
			return nil
		}
		dirid := binary.LittleEndian.Uint64(it.Data[0:])
		n := int(binary.LittleEndian.Uint16(it.Data[16:]))
		if 18+n > len(it.Data) {
			return nil
		}
		dir, err := btrfs.InoLookup(fd, 0, dirid)
		if err != nil {
			return err
		}
		add(merkle.Join(top, dir+string(it.Data[18:18+n])))
		return nil
	})
	slices.SortFunc(out, merkle.ComparePaths)
	return out, err
}

// mountPoints returns the mount points of this mount namespace.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		out = append(out, unescapeMount(fields[4]))
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pruneSnapshots deletes the snapshots in the snapshot directories of the
// subvolumes in snaps that no baseline kept in db records any more.
func pruneSnapshots(db *store.DB, o *Options, snaps []store.Snapshot) {
	if len(snaps) == 0 {
		return
	}
	infos, err := db.Baselines()
	if err != nil {
		o.warn(db.Path(), fmt.Errorf("snapshots not pruned: %w", err))
		return
	}
	kept := map[string]bool{}
	for _, in := range infos {
		for _, s := range in.Snapshots {
			kept[s.Path] = true
		}
	}
	dirs := map[string]bool{}
	for _, s := range snaps {
		dirs[filepath.Dir(s.Path)] = true
	}
	for dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			o.warn(dir, fmt.Errorf("snapshots not pruned: %w", err))
			continue
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if kept[p] || !e.IsDir() || !snapshotName(db.Path(), e.Name()) {
				continue
			}
			if err := btrfs.DeleteSnapshot(p); err != nil {
				o.warn(p, fmt.Errorf("snapshot not pruned: %w", err))
			}
		}
	}
}

const snapshotTime = "20060102T150405.000000000Z"

// dbTag names the database at path in its snapshots' names, so that two
// databases keeping snapshots of one subvolume never prune each other's.
func dbTag(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	h := fnv.New32a()
	h.Write([]byte(path))
	return fmt.Sprintf("%08x", h.Sum32())
}

// snapshotName reports whether name is one takeSnapshots gives for the
// database at db.
func snapshotName(db, name string) bool {
	t, ok := strings.CutPrefix(name, dbTag(db)+"-")
	if !ok {
		return false
	}
	_, err := time.Parse(snapshotTime, t)
	return err == nil
}

// planBtrfs returns the plan of a check or update of the whole baseline
// cur from the Btrfs searches of its snapshots, nil if it has none. Each
// root with a snapshot costs a syncfs and, if its subvolume changed at
// all, a search for the inodes changed since the snapshot (which costs
// what changed) and the paths of those inside the root. Roots without one
// are scanned whole.
func planBtrfs(ctx context.Context, cur *store.Baseline, o *Options, m *config.Matcher) (*plan, error) {
	info := cur.Info()
	if len(info.Snapshots) == 0 {
		return nil, nil
	}
	pl := &plan{shallow: map[string]merkle.Attr{}, method: MethodBtrfs}
	byTop := map[string][]store.Snapshot{}
	for _, r := range info.Roots {
		// What lies above a root is on no search's path.
		for d := merkle.Parent(r); d != ""; d = merkle.Parent(d) {
			if e, err := cur.Lookup(d); err == nil && e != nil && e.Type == merkle.TypeDir {
				pl.shallow[d] = e.Attrs
			}
		}
		i := slices.IndexFunc(info.Snapshots, func(s store.Snapshot) bool { return s.Root == r })
		if i < 0 {
			pl.scopes = append(pl.scopes, r) // not on Btrfs when recorded: walked
			continue
		}
		s := info.Snapshots[i]
		byTop[s.Top] = append(byTop[s.Top], s)
	}
	for _, top := range slices.Sorted(maps.Keys(byTop)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := planTop(cur, o, m, pl, top, byTop[top]); err != nil {
			return nil, err
		}
	}
	pl.scopes = merkle.Outermost(pl.scopes)
	for d := range pl.shallow {
		if insideAny(d, pl.scopes) {
			delete(pl.shallow, d) // read whole anyway
		}
	}
	return pl, nil
}

// errFallBack says a Btrfs plan cannot be made: the check scans instead.
var errFallBack = errors.New("btrfs plan not possible")

// planTop adds to pl what changed in the subvolume top since the
// snapshots snaps (one per root it holds) were taken.
func planTop(cur *store.Baseline, o *Options, m *config.Matcher, pl *plan, top string, snaps []store.Snapshot) error {
	s := snaps[0]
	roots := make([]string, len(snaps))
	for i, sn := range snaps {
		roots[i] = sn.Root
		for _, f := range sn.Foreign {
			if !excluded(m, f, []string{sn.Root}, true) {
				pl.scopes = append(pl.scopes, f)
			}
		}
	}
	fd, err := btrfs.OpenDir(top)
	if err != nil {
		return fmt.Errorf("%w: %w", errFallBack, err)
	}
	defer unix.Close(fd)
	live, err := btrfs.GetSubvolInfo(fd)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errFallBack, top, err)
	}
	if live.UUID.String() != s.LiveUUID || live.ID != s.LiveID {
		return fmt.Errorf("%w: %s is another subvolume (%s) than the baseline's (%s)", errFallBack, top, live.UUID, s.LiveUUID)
	}
	// A search since the snapshot must not find anything in it, and it
	// must be as recorded: else its otransid bounds nothing.
	if err := btrfs.Trust(btrfs.Recorded{Path: s.Path, UUID: s.UUID, OTransid: s.OTransid, CTransid: s.CTransid}); err != nil {
		return fmt.Errorf("%w: %w", errFallBack, err)
	}
	// Mounts and nested subvolumes, those made since the baseline too:
	// what changes in them moves nothing in this subvolume's tree.
	foreign, err := foreignDirs(fd, top, live.ID, roots, snapshotDir(o.Config, top))
	if err != nil {
		return fmt.Errorf("%w: %w", errFallBack, err)
	}
	for _, f := range foreign {
		if !excluded(m, f, roots, true) {
			pl.scopes = append(pl.scopes, f)
		}
	}
	if err := btrfs.Syncfs(fd); err != nil {
		return fmt.Errorf("%w: syncfs %s: %w", errFallBack, top, err)
	}
	if live, err = btrfs.GetSubvolInfo(fd); err != nil {
		return fmt.Errorf("%w: %s: %w", errFallBack, top, err)
	}
	if live.CTransid == s.CTransid {
		return nil // nothing changed in the subvolume since
	}
	var inodes []btrfs.Inode
	err = btrfs.ChangedInodes(fd, 0, s.OTransid, func(in btrfs.Inode) error {
		if len(inodes) >= maxBtrfsChanges {
			return errFallBack
		}
		inodes = append(inodes, in)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errFallBack, err)
	}
	dirs := map[string]btrfs.Inode{}
	for _, in := range inodes {
		paths := []string{""} // the top has no name in its own tree
		if in.Ino != btrfs.FirstFreeObjectID {
			if paths, err = btrfs.InoPaths(fd, in.Ino); err != nil {
				return fmt.Errorf("%w: %w", errFallBack, err)
			}
		}
		for _, rel := range paths {
			p := top
			if rel != "" {
				p = merkle.Join(top, rel)
			}
			if !insideAny(p, roots) || excluded(m, p, roots, in.Mode&unix.S_IFMT == unix.S_IFDIR) {
				continue
			}
			if in.Mode&unix.S_IFMT == unix.S_IFDIR {
				dirs[p] = in
			} else {
				pl.scopes = append(pl.scopes, p)
			}
		}
	}
	for _, d := range slices.SortedFunc(maps.Keys(dirs), merkle.ComparePaths) {
		if err := planDir(cur, m, pl, top, d, dirs[d], slices.Contains(roots, d)); err != nil {
			return err
		}
	}
	return nil
}

// planDir adds to pl what changed in directory d, whose inode in changed:
// the names it gained or lost (read whole) and d itself (shallow).
func planDir(cur *store.Baseline, m *config.Matcher, pl *plan, top, d string, in btrfs.Inode, isRoot bool) error {
	self, kids, err := cur.Dir(d)
	if err != nil {
		return err
	}
	old := self.Entry
	switch {
	case old == nil && isRoot, old != nil && old.Type != merkle.TypeDir:
		pl.scopes = append(pl.scopes, d)
		return nil
	case old == nil:
		return nil // new: its parent lists it
	case old.Ctime == in.Ctime.Nanos() && old.Mtime == in.Mtime.Nanos():
		return nil // read, not changed (atime)
	}
	names, err := btrfs.ReadDirNames(top, relTo(top, d))
	if errors.Is(err, fs.ErrNotExist) {
		pl.scopes = append(pl.scopes, d)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errFallBack, err)
	}
	had := make(map[string]bool, len(kids))
	for _, k := range kids {
		had[k.Entry.Name()] = true
	}
	for _, n := range names {
		if !had[n] {
			pl.scopes = append(pl.scopes, merkle.Join(d, n))
		}
		delete(had, n)
	}
	for n := range had {
		pl.scopes = append(pl.scopes, merkle.Join(d, n))
	}
	attrs, _ := m.Filter(d, true)
	pl.shallow[d] = attrs
	return nil
}

// excluded reports whether p, or a directory above it inside its root, is
// excluded.
func excluded(m *config.Matcher, p string, roots []string, dir bool) bool {
	for q := p; q != ""; q = merkle.Parent(q) {
		if _, ex := m.Filter(q, dir || q != p); ex {
			return true
		}
		if slices.Contains(roots, q) {
			return false
		}
	}
	return false
}

// relTo returns p (inside top) relative to top, "" for top itself.
func relTo(top, p string) string {
	if p == top {
		return ""
	}
	if top == "/" {
		return p[1:]
	}
	return p[len(top)+1:]
}

// checkBtrfs checks the whole baseline cur by a Btrfs plan. ok is false
// when it has no snapshots or a plan cannot be made (said to Warn): the
// caller then scans. Changes reach o.Report only once the plan has run, in
// the order a scan reports them, so that a fallback reports nothing twice.
func checkBtrfs(ctx context.Context, db *store.DB, o Options, cur *store.Baseline, m *config.Matcher) (Result, bool, error) {
	pl, err := planBtrfs(ctx, cur, &o, m)
	if pl == nil && err == nil {
		return Result{}, false, nil
	}
	if err == nil {
		var res Result
		report := o.report()
		held := &collector{Reporter: report}
		o.Report = held
		if res, err = runPlan(ctx, db, o, cur, pl, false); err == nil {
			res.Scopes = nil // the whole baseline was checked
			for i, c := range held.changes {
				if err := held.replay(report, i, c); err != nil {
					return res, true, err
				}
			}
			return res, true, nil
		}
	}
	if errors.Is(err, errFallBack) || errors.Is(err, errRace) {
		why := "btrfs check not possible, scanning instead"
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			why = "the btrfs check needs root (or CAP_SYS_ADMIN and the snapshots' directory), scanning instead"
		}
		o.warn(cur.Info().Roots[0], fmt.Errorf("%s: %w", why, err))
		return Result{}, false, nil
	}
	return Result{}, true, err
}

// updateBtrfs updates the whole baseline cur by a Btrfs plan, with new
// snapshots taken before it runs. ok is false when no plan can be made.
func updateBtrfs(ctx context.Context, db *store.DB, o Options, cur *store.Baseline) (Result, bool, error) {
	m, err := o.matcher(cur.Info().Roots)
	if err != nil {
		return Result{}, true, err
	}
	pl, err := planBtrfs(ctx, cur, &o, m)
	if errors.Is(err, errFallBack) {
		o.warn(cur.Info().Roots[0], fmt.Errorf("btrfs update not possible, scanning instead: %w", err))
		return Result{}, false, nil
	}
	if pl == nil || err != nil {
		return Result{}, err != nil, err
	}
	// A race found while the plan runs fails the update: its changes are
	// reported as they are found, and a second pass would report them
	// again.
	pl.snapshots = o.takeSnapshots(db.Path(), cur.Info().Roots)
	defer pruneSnapshots(db, &o, pl.snapshots)
	res, err := runPlan(ctx, db, o, cur, pl, true)
	res.Scopes = nil // the whole baseline was updated
	return res, true, err
}

// runPlan runs pl: a plan that found nothing to read leaves the root as
// it was.
func runPlan(ctx context.Context, db *store.DB, o Options, cur *store.Baseline, pl *plan, write bool) (Result, error) {
	if len(pl.scopes) == 0 && len(pl.shallow) == 0 {
		info := cur.Info()
		return Result{Baseline: info, OldRoot: merkle.Hash(info.Root), NewRoot: merkle.Hash(info.Root), Method: MethodBtrfs}, nil
	}
	return scoped(ctx, db, o, cur, pl, write)
}
