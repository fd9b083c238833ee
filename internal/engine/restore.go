package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/merkle"
	"vigil/store"
)

// Restore errors; a refused path's [RestoreResult.Err] wraps one of them
// (or [btrfs.ErrUntrusted], [store.ErrTampered], [ErrOutside]).
var (
	// ErrNoSnapshot says no trusted snapshot recorded with a baseline
	// covers the path.
	ErrNoSnapshot = errors.New("no recorded snapshot covers the path")
	// ErrSourceMismatch says the snapshot's copy is not what the baseline
	// records for the path: it is never used.
	ErrSourceMismatch = errors.New("the snapshot's copy is not the baseline's state")
	// ErrUnverifiable says the baseline holds no state that a copy could be
	// proven against (no content hash, a recorded read error, a socket).
	ErrUnverifiable = errors.New("the baseline's record cannot prove a copy")
	// ErrUnsafePath says a directory above the path is not a directory
	// (a symlink put in its place, say): restore that directory first.
	ErrUnsafePath = errors.New("a directory above the path is not a directory")
	// ErrNotRestored says the path, restored, does not verify against the
	// baseline.
	ErrNotRestored = errors.New("the restored path does not verify against the baseline")
)

// restorable are the attributes a restore puts back, and that the source
// and the result are compared on: not the inode, its change time or its
// link count, which a new inode cannot keep.
const restorable = merkle.AttrContent | merkle.AttrType | merkle.AttrMode | merkle.AttrUID | merkle.AttrGID |
	merkle.AttrSize | merkle.AttrMtime | merkle.AttrXattrs | merkle.AttrTarget | merkle.AttrFlags

// RestoreOptions configure [Restore].
type RestoreOptions struct {
	// Config supplies the excludes: in a directory restored, an entry the
	// baseline does not record is quarantined unless it is excluded. Nil
	// leaves every such entry alone.
	Config *config.Config
	// Paths are the absolute paths to restore; a directory is restored
	// with everything the baseline records below it.
	Paths []string
	// From is the top directory of the snapshot to restore from: one that
	// some kept baseline records. Empty means the current baseline's
	// snapshot of the path's root.
	From string
	// DryRun verifies everything and reports what would be done, changing
	// nothing.
	DryRun bool
	// Verifiers, if set, must have sealed the current baseline
	// ([VerifySeal]); otherwise nothing is restored.
	Verifiers note.Verifiers
	// Quarantine is the directory, relative to the live subvolume's top,
	// for the inodes replaced (see [btrfs.RestoreOptions]).
	Quarantine string
	// Now stamps quarantined names; nil means time.Now.
	Now func() time.Time
}

// RestoreAction says what became of one path.
type RestoreAction int

// What [Restore] did with a path.
const (
	// Restored: put back and verified against the baseline.
	Restored RestoreAction = iota + 1
	// Intact: already in the baseline's state; nothing done.
	Intact
	// WouldRestore: a dry run found it restorable.
	WouldRestore
	// Refused: not restored, nothing changed on disk; Err says why.
	Refused
	// RestoreFailed: the restore was begun and failed, or its result does
	// not verify; Err says why.
	RestoreFailed
)

var restoreActions = [...]string{"", "restored", "intact", "would_restore", "restore_refused", "restore_failed"}

// String returns the event.action of a.
func (a RestoreAction) String() string {
	if int(a) < len(restoreActions) {
		return restoreActions[a]
	}
	return "unknown"
}

// RestoreResult is what [Restore] did with one of its paths.
type RestoreResult struct {
	Path   string
	Action RestoreAction
	// Err says why it was refused or failed.
	Err error
	// Snapshot is the snapshot's top directory used as the source.
	Snapshot string
	// Baseline is the id of the baseline verified against.
	Baseline uint64
	// Changed are the attributes that differed from the baseline, over the
	// path and everything below it.
	Changed merkle.Attr
	// Entries are the paths put back (or to be, in a dry run), in path
	// order; Quarantined where the inodes they replaced went, and the
	// entries not recorded that were taken out of restored directories.
	Entries, Quarantined []string
	// Cloned counts the files reflinked from the snapshot (sharing its
	// extents), Copied those copied.
	Cloned, Copied int
}

// Restore puts each of o.Paths back in the state the current baseline
// records, from a trusted read-only Btrfs snapshot: the baseline's own
// (see store.Snapshot) or o.From. Nothing is changed for a path unless the
// snapshot passes [btrfs.Trust], no directory above the path is anything
// but a directory, and the snapshot's copy of every entry equals the
// baseline's record of it (content hash, type, mode, owner, size, mtime,
// xattrs, flags, target), each record verified through its path to the
// baseline's root. After a restore every entry is read again and must
// equal the record. The error is for what stops every path (no baseline,
// a seal that does not verify); each path's own outcome is in its result.
func Restore(ctx context.Context, db *store.DB, o RestoreOptions) ([]RestoreResult, error) {
	cur, err := db.Current()
	if err != nil {
		return nil, err
	}
	if o.Verifiers != nil {
		if err := VerifySeal(db, cur, o.Verifiers); err != nil {
			return nil, err
		}
	}
	all, err := db.Baselines()
	if err != nil {
		return nil, err
	}
	var m *config.Matcher
	if o.Config != nil {
		if m, err = o.Config.Matcher(); err != nil {
			return nil, err
		}
	}
	var out []RestoreResult
	for _, p := range o.Paths {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := &restoreJob{ctx: ctx, o: &o, cur: cur, match: m, res: RestoreResult{Path: p, Baseline: cur.Info().ID}}
		r.run(all)
		out = append(out, r.res)
	}
	return out, nil
}

// restoreJob restores one of the paths.
type restoreJob struct {
	ctx   context.Context
	o     *RestoreOptions
	cur   *store.Baseline
	match *config.Matcher
	snap  store.Snapshot
	res   RestoreResult
	plan  []planned
	// parent is the path's parent, relative to the live top, when its
	// times are to be put back after the restore (its snapshot copy is
	// its record), else "".
	parent string
}

// planned is one entry of a restore's plan.
type planned struct {
	rec     *merkle.Entry
	rel     string // below the live top and the snapshot's
	restore bool   // differs from the record (else intact)
	extras  []string
}

func (r *restoreJob) refuse(err error) {
	r.res.Action, r.res.Err = Refused, err
}

func (r *restoreJob) run(all []store.Info) {
	p := r.res.Path
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		r.refuse(fmt.Errorf("%s: not an absolute, clean path", p))
		return
	}
	if err := within([]string{p}, r.cur.Info().Roots); err != nil {
		r.refuse(err)
		return
	}
	snap, err := findSnapshot(p, r.cur.Info(), all, r.o.From)
	if err != nil {
		r.refuse(err)
		return
	}
	r.snap, r.res.Snapshot = snap, snap.Path
	if err := trustLive(snap); err != nil {
		r.refuse(err)
		return
	}
	if err := r.checkAbove(); err != nil {
		r.refuse(err)
		return
	}
	if err := r.makePlan(); err != nil {
		r.refuse(err)
		return
	}
	r.planParent()
	if len(r.res.Entries) == 0 && len(r.res.Quarantined) == 0 {
		r.res.Action = Intact
		return
	}
	if r.o.DryRun {
		r.res.Action = WouldRestore
		return
	}
	r.res.Entries, r.res.Quarantined = nil, nil
	if err := r.apply(); err != nil {
		r.res.Action, r.res.Err = RestoreFailed, err
		return
	}
	if err := r.verifyAfter(); err != nil {
		r.res.Action, r.res.Err = RestoreFailed, err
		return
	}
	r.res.Action = Restored
}

// findSnapshot returns the snapshot to restore p from: the one of the
// current baseline whose root holds p, or the one at from, which some kept
// baseline must record and whose live subvolume must hold p.
func findSnapshot(p string, cur store.Info, all []store.Info, from string) (store.Snapshot, error) {
	var found *store.Snapshot
	if from == "" {
		for i, s := range cur.Snapshots {
			if merkle.Within(p, s.Root) && (found == nil || len(s.Root) > len(found.Root)) {
				found = &cur.Snapshots[i]
			}
		}
	} else {
		from = filepath.Clean(from)
		for _, in := range append([]store.Info{cur}, all...) {
			for i, s := range in.Snapshots {
				if s.Path == from && merkle.Within(p, s.Top) {
					found = &in.Snapshots[i]
					break
				}
			}
			if found != nil {
				break
			}
		}
	}
	if found == nil {
		if from != "" {
			return store.Snapshot{}, fmt.Errorf("%s: %w (no kept baseline records %s as a snapshot of it)", p, ErrNoSnapshot, from)
		}
		return store.Snapshot{}, fmt.Errorf("%s: %w (baseline %d)", p, ErrNoSnapshot, cur.ID)
	}
	for _, f := range found.Foreign {
		if merkle.Within(p, f) {
			return store.Snapshot{}, fmt.Errorf("%s: %w: %s was another filesystem or subvolume when the snapshot was taken", p, ErrNoSnapshot, f)
		}
	}
	return *found, nil
}

// trustLive checks the snapshot (btrfs.Trust) and that the live top is
// still the subvolume it was taken of.
func trustLive(s store.Snapshot) error {
	if err := btrfs.Trust(btrfs.Recorded{Path: s.Path, UUID: s.UUID, OTransid: s.OTransid, CTransid: s.CTransid}); err != nil {
		return err
	}
	live, err := btrfs.Info(s.Top)
	if err != nil {
		return err
	}
	if s.LiveUUID != "" && live.UUID.String() != s.LiveUUID {
		return fmt.Errorf("%s: subvolume %s, but the snapshot was taken of %s: %w", s.Top, live.UUID, s.LiveUUID, btrfs.ErrUntrusted)
	}
	return nil
}

// rel returns p relative to the live top ("" for the top itself).
func (r *restoreJob) rel(p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, r.snap.Top), "/")
}

// source returns p's copy in the snapshot.
func (r *restoreJob) source(p string) string {
	return r.snap.Path + strings.TrimPrefix(p, strings.TrimSuffix(r.snap.Top, "/"))
}

// checkAbove refuses a path with anything but a directory above it, below
// the live top: the restore would be refused on the way (no symlink is
// ever followed), and the directory has to be restored first.
func (r *restoreJob) checkAbove() error {
	p := r.res.Path
	for d := merkle.Parent(p); merkle.Within(d, r.snap.Top) && d != r.snap.Top; d = merkle.Parent(d) {
		st, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", p, ErrUnsafePath, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("%s: %w: %s is a %s; restore it first", p, ErrUnsafePath, d, typeOf(st.Mode()))
		}
	}
	return nil
}

func typeOf(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// makePlan reads the baseline's records of the path and what lies below
// it, verified to the root, checks each against the snapshot's copy and
// notes what differs on the live side. It changes nothing.
func (r *restoreJob) makePlan() error {
	recs, err := r.records()
	if err != nil {
		return err
	}
	replaced := map[string]bool{} // directories that will be made anew
	kids := map[string][]string{}
	for _, e := range recs {
		if e.Path != r.res.Path {
			kids[merkle.Parent(e.Path)] = append(kids[merkle.Parent(e.Path)], e.Name())
		}
	}
	for _, e := range recs {
		if err := r.checkSource(e); err != nil {
			return err
		}
		pl := planned{rec: e, rel: r.rel(e.Path), restore: replaced[merkle.Parent(e.Path)]}
		if !pl.restore {
			d, isDir, err := r.liveDiff(e)
			if err != nil {
				return err
			}
			pl.restore = d != 0
			r.res.Changed |= d
			if e.Type == merkle.TypeDir && !isDir {
				replaced[e.Path] = true
			}
			if e.Type == merkle.TypeDir && isDir {
				if pl.extras, err = r.extras(e.Path, kids[e.Path]); err != nil {
					return err
				}
			}
		}
		if pl.restore {
			r.res.Entries = append(r.res.Entries, e.Path)
		}
		for _, x := range pl.extras {
			r.res.Quarantined = append(r.res.Quarantined, path.Join(e.Path, x))
		}
		r.plan = append(r.plan, pl)
	}
	return nil
}

// records returns the baseline's entries of the path and below it, in path
// order, verified: each subtree against its stored hashes, the path's
// record through its parents to the root.
func (r *restoreJob) records() ([]*merkle.Entry, error) {
	p := r.res.Path
	top, err := r.cur.Lookup(p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w: not recorded in baseline %d", p, ErrUnverifiable, r.cur.Info().ID)
	}
	if err != nil {
		return nil, err
	}
	if top.Type != merkle.TypeDir {
		return []*merkle.Entry{top}, nil
	}
	v := store.NewVerifier(r.cur.Info(), false)
	it := r.cur.Iter(p)
	var out []*merkle.Entry
	for {
		n, err := it.Next()
		if err != nil {
			return nil, err
		}
		if n.Entry == nil {
			break
		}
		v.Add(n)
		out = append(out, n.Entry)
	}
	if err := v.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSource refuses a record that proves nothing, or a snapshot copy
// that differs from it.
func (r *restoreJob) checkSource(e *merkle.Entry) error {
	switch {
	case e.Err != "":
		return fmt.Errorf("%s: %w: recorded with an error (%s)", e.Path, ErrUnverifiable, e.Err)
	case e.Type == merkle.TypeSocket || e.Type == merkle.TypeUnknown:
		return fmt.Errorf("%s: %w: a %s", e.Path, ErrUnverifiable, e.Type)
	case e.Type == merkle.TypeFile && (!e.Attrs.Has(merkle.AttrContent) || e.HashState != merkle.HashOK):
		return fmt.Errorf("%s: %w: no content hash recorded (%s)", e.Path, ErrUnverifiable, e.HashState)
	}
	src := r.source(e.Path)
	got, err := ScanPath(r.ctx, src, e.Attrs)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", e.Path, ErrSourceMismatch, err)
	}
	if got.Err != "" {
		return fmt.Errorf("%s: %w: %s: %s", e.Path, ErrSourceMismatch, src, got.Err)
	}
	if d := merkle.Compare(e, got) & restorable; d != 0 {
		return fmt.Errorf("%s: %w: %s differs in %s", e.Path, ErrSourceMismatch, src, d)
	}
	return nil
}

// liveDiff returns what of e's restorable attributes the live path
// differs in (every one when it is gone) and whether it is a directory.
func (r *restoreJob) liveDiff(e *merkle.Entry) (merkle.Attr, bool, error) {
	st, err := os.Lstat(e.Path)
	if errors.Is(err, os.ErrNotExist) {
		return restorable & (e.Attrs | merkle.AttrType), false, nil
	}
	if err != nil {
		return 0, false, err
	}
	got, err := ScanPath(r.ctx, e.Path, e.Attrs)
	if err != nil {
		return 0, false, err
	}
	d := merkle.Compare(e, got) & restorable
	if got.Err != "" {
		d |= merkle.AttrContent
	}
	return d, st.IsDir(), nil
}

// extras returns the names in the live directory dir that the baseline
// does not record there (kids) and that are neither excluded nor mount
// points or subvolumes (another device) nor the quarantine.
func (r *restoreJob) extras(dir string, kids []string) ([]string, error) {
	if r.match == nil {
		return nil, nil
	}
	names, err := btrfs.ReadDirNames(r.snap.Top, r.rel(dir))
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, k := range kids {
		known[k] = true
	}
	q := filepath.Join(r.snap.Top, r.quarantine())
	var dst os.FileInfo
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if known[n] || p == q {
			continue
		}
		if _, excluded := r.match.Match(p); excluded {
			continue
		}
		if dst == nil {
			if dst, err = os.Lstat(dir); err != nil {
				return nil, err
			}
		}
		if st, err := os.Lstat(p); err == nil && sameDevice(st, dst) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (r *restoreJob) quarantine() string {
	if r.o.Quarantine != "" {
		return strings.TrimPrefix(filepath.Clean(r.o.Quarantine), "/")
	}
	return btrfs.DefaultQuarantine
}

// apply carries out the plan: parents before their entries, unrecorded
// entries out of each directory, then each directory touched given its
// times and flags, deepest first.
func (r *restoreJob) apply() error {
	bo := btrfs.RestoreOptions{Quarantine: r.quarantine(), Now: r.o.Now}
	var touched []planned
	for _, pl := range r.plan {
		if pl.restore {
			d, err := btrfs.Restore(r.snap.Path, r.snap.Top, pl.rel, bo)
			if d.Quarantined != "" {
				r.res.Quarantined = append(r.res.Quarantined, filepath.Join(r.snap.Top, d.Quarantined))
			}
			if err != nil {
				return err
			}
			r.res.Entries = append(r.res.Entries, pl.rec.Path)
			switch {
			case d.Type == "file" && d.Cloned:
				r.res.Cloned++
			case d.Type == "file":
				r.res.Copied++
			}
		}
		for _, x := range pl.extras {
			q, err := btrfs.Quarantine(r.snap.Top, path.Join(pl.rel, x), bo)
			if err != nil {
				return err
			}
			r.res.Quarantined = append(r.res.Quarantined, filepath.Join(r.snap.Top, q))
		}
		if pl.rec.Type == merkle.TypeDir && (pl.restore || len(pl.extras) > 0 || r.childRestored(pl.rec.Path)) {
			touched = append(touched, pl)
		}
	}
	for i := len(touched) - 1; i >= 0; i-- {
		if err := btrfs.FinishDir(r.snap.Path, r.snap.Top, touched[i].rel); err != nil {
			return err
		}
	}
	if r.parent != "" && r.plan[0].restore {
		return btrfs.FinishDir(r.snap.Path, r.snap.Top, r.parent)
	}
	return nil
}

// planParent notes the path's parent for [btrfs.FinishDir] when the
// baseline records it (below the live top) and its snapshot copy is that
// record: the rename moves its mtime, which can then be put back.
func (r *restoreJob) planParent() {
	d := merkle.Parent(r.res.Path)
	if d == r.res.Path || !merkle.Within(d, r.snap.Top) || d == r.snap.Top {
		return
	}
	e, err := r.cur.Lookup(d)
	if err != nil || e.Type != merkle.TypeDir || r.checkSource(e) != nil {
		return
	}
	if diff, isDir, err := r.liveDiff(e); err == nil && isDir && diff&^(merkle.AttrMtime|merkle.AttrSize) == 0 {
		r.parent = r.rel(d)
	}
}

// childRestored reports whether the plan restores an entry directly in
// dir (which moves its times).
func (r *restoreJob) childRestored(dir string) bool {
	for _, pl := range r.plan {
		if pl.restore && pl.rec.Path != dir && merkle.Parent(pl.rec.Path) == dir {
			return true
		}
	}
	return false
}

// verifyAfter reads every entry restored again and compares it with the
// baseline's record.
func (r *restoreJob) verifyAfter() error {
	var errs []error
	for _, pl := range r.plan {
		d, _, err := r.liveDiff(pl.rec)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w: %w", pl.rec.Path, ErrNotRestored, err))
		case d != 0:
			errs = append(errs, fmt.Errorf("%s: %w: %s differ", pl.rec.Path, ErrNotRestored, d))
		}
	}
	return errors.Join(errs...)
}

// sameDevice reports whether a and b lie on one device (subvolume).
func sameDevice(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev
}
