package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
	"vigil/merkle"
)

// Queue sizes. outQueue bounds the window of entries between the walk and the
// visitor (the reorder buffer); hashQueue bounds files waiting for a worker.
// The listings done ahead of the walk are bounded by the scheduler.
const (
	outQueue  = 1024
	hashQueue = 512
)

// outBatch is how many items the walk hands the visitor at a time: a
// channel operation, and often a goroutine's wake-up, per entry cost more
// than the rest of an unchanged entry's user time. A batch goes early when
// the walk is about to wait for a listing, and at the end.
const outBatch = 64

// item is one entry on its way to the visitor, in order. If j is set, the
// entry is complete once j.done is closed.
type item struct {
	e   *merkle.Entry
	err error
	j   *job
}

// failed is an item for a path that yields no entry, only an error.
func failed(err error) item { return item{err: err} }

// Scan walks roots (absolute, clean paths) and calls visit once per entry in
// [merkle.ComparePaths] order, from the calling goroutine. Roots that lie
// inside another root are scanned once; excluded roots not at all. A root
// that does not exist produces no entry and no error.
//
// visit owns each entry passed to it. Scan returns the first error from
// visit, from [Options.OnError], or from ctx.
func Scan(ctx context.Context, roots []string, opts Options, visit func(*merkle.Entry) error) error {
	roots, err := normalizeRoots(roots)
	if err != nil {
		return err
	}
	hashN := cmpOr(opts.HashWorkers, DefaultHashWorkers())
	dirN := cmpOr(opts.DirWorkers, DefaultDirWorkers())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	s := newSched()
	stop := context.AfterFunc(gctx, s.close)
	defer stop()
	out := make(chan []item, outQueue/outBatch)
	free := make(chan []item, outQueue/outBatch+2) // emptied batches, back to the walk
	jobs := make(chan *job, hashQueue)
	for range dirN {
		g.Go(func() error {
			l := newLister(&opts, s)
			for t := s.next(); t != nil; t = s.next() {
				s.produced(t, l.list(t))
			}
			return nil
		})
	}
	for range hashN {
		g.Go(func() error {
			h := newHasher(&opts)
			for j := range jobs {
				if gctx.Err() != nil {
					h.skip(j)
					continue
				}
				h.do(gctx, j)
			}
			return nil
		})
	}
	w := &walker{opts: &opts, sched: s, out: out, free: free, jobs: jobs, self: newLister(&opts, s)}
	g.Go(func() error {
		defer close(out)
		defer close(jobs)
		defer s.close()
		if err := w.walk(gctx, roots); err != nil {
			return err
		}
		return w.flush(gctx)
	})
	verr := consume(gctx, &opts, out, free, visit)
	if verr != nil {
		cancel()
	}
	gerr := g.Wait()
	s.closeLive()
	if verr != nil {
		return verr
	}
	if gerr != nil {
		return gerr
	}
	return ctx.Err()
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// consume hands the walk's items to visit in order, waiting for pending
// files.
func consume(ctx context.Context, opts *Options, out <-chan []item, free chan<- []item, visit func(*merkle.Entry) error) error {
	for batch := range out {
		for i := range batch {
			if err := consumeItem(ctx, opts, batch[i], visit); err != nil {
				return err
			}
		}
		clear(batch)
		select {
		case free <- batch[:0]:
		default: // never blocks: the walk takes them back when it can
		}
	}
	return ctx.Err()
}

// consumeItem hands one item to visit, waiting for its file job if it has
// one.
func consumeItem(ctx context.Context, opts *Options, it item, visit func(*merkle.Entry) error) error {
	err := it.err
	if it.e == nil {
		if opts.Stats != nil {
			opts.Stats.Errors.Add(1)
		}
		if opts.OnError != nil {
			if err := opts.OnError(errPath(err), err); err != nil {
				return err
			}
		}
		return nil
	}
	if it.j != nil {
		select {
		case <-it.j.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if it.j.gone {
			return nil
		}
		err = errors.Join(err, it.j.err)
	}
	if err != nil {
		it.e.Err = err.Error()
		if opts.Stats != nil {
			opts.Stats.Errors.Add(1)
		}
		if opts.OnError != nil {
			if err := opts.OnError(it.e.Path, err); err != nil {
				return err
			}
		}
	}
	if opts.Stats != nil {
		opts.Stats.Entries.Add(1)
	}
	if d, ok := opts.DevMap[it.e.Dev]; ok {
		it.e.Dev = d
	}
	if err := visit(it.e); err != nil {
		return err
	}
	return nil
}

// normalizeRoots checks, sorts and de-nests roots.
func normalizeRoots(roots []string) ([]string, error) {
	rs := slices.Clone(roots)
	for _, r := range rs {
		if !merkle.ValidPath(r) {
			return nil, fmt.Errorf("root %q: %w", r, merkle.ErrNotAbs)
		}
	}
	slices.SortFunc(rs, merkle.ComparePaths)
	out := rs[:0]
	for _, r := range rs {
		if len(out) > 0 && merkle.Within(r, out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// walker produces items in order: it walks directories depth first, in name
// order, using listings the listers made ahead of it.
type walker struct {
	opts    *Options
	sched   *sched
	out     chan<- []item
	free    <-chan []item // batches the visitor is done with
	batch   []item        // items not yet sent: see [outBatch]
	jobs    chan<- *job
	self    *lister  // for listings the walk needs before any lister took them
	emitted []string // the ancestors last recorded, from "/" down
	notDir  string   // the last of them, if it is not a directory
}

func (w *walker) walk(ctx context.Context, roots []string) error {
	for _, r := range roots {
		if err := w.root(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// root walks one root, after the ancestors not yet recorded if asked to.
func (w *walker) root(ctx context.Context, root string) error {
	if _, ex := w.opts.filter(root, true); ex {
		return nil // excluded whatever it is
	}
	if w.opts.Ancestors {
		ok, err := w.ancestors(ctx, root)
		if !ok || err != nil {
			return err
		}
	}
	attrs, _ := w.opts.filter(root, true)
	e, err := lstatPath(w.opts, root, attrs)
	if gone(err) {
		return nil
	}
	if errors.Is(err, unix.ELOOP) {
		err = pathErr("lstat", root, ErrSymlinkPath)
	}
	if err != nil {
		return w.send(ctx, failed(unlisted(err)))
	}
	if e.Type != merkle.TypeDir {
		a, ex := w.opts.filter(root, false)
		if ex {
			return nil
		}
		e.Attrs = a
	}
	dev := e.Dev
	if d, ok := w.opts.RootDevs[root]; ok {
		dev = d
	}
	return w.entry(ctx, e, dev)
}

// ancestors records the directories above root not recorded yet. ok is
// false if root cannot be reached without following a symlink.
func (w *walker) ancestors(ctx context.Context, root string) (ok bool, err error) {
	var chain []string
	for p := merkle.Parent(root); p != ""; p = merkle.Parent(p) {
		chain = append(chain, p)
	}
	slices.Reverse(chain)
	for i, p := range chain {
		if i < len(w.emitted) && w.emitted[i] == p {
			if w.notDir == p {
				return false, w.send(ctx, failed(pathErr("lstat", root, ErrSymlinkPath)))
			}
			continue
		}
		w.emitted = w.emitted[:i] // the chain parts from the last root's here
		e, err := lstatPath(w.opts, p, ancestorAttrs)
		if gone(err) {
			return false, nil
		}
		if err != nil {
			return false, w.send(ctx, failed(err))
		}
		if e.Type == merkle.TypeSymlink {
			e.Target, err = fsys.Readlinkat(unix.AT_FDCWD, p)
			err = pathErr("readlink", p, err)
		}
		if err := w.send(ctx, item{e: e, err: err}); err != nil {
			return false, err
		}
		w.emitted = append(w.emitted, p)
		if e.Type != merkle.TypeDir {
			w.notDir = p
			return false, w.send(ctx, failed(pathErr("lstat", root, ErrSymlinkPath)))
		}
	}
	w.emitted = w.emitted[:len(chain)]
	return true, nil
}

// lstatPath lstat's a path without following symlinks anywhere in it.
func lstatPath(opts *Options, path string, attrs merkle.Attr) (*merkle.Entry, error) {
	e := &merkle.Entry{Path: path, Attrs: attrs | merkle.AttrType}
	if err := opts.fault("lstat", path); err != nil {
		return e, pathErr("lstat", path, err)
	}
	st, err := lstatBeneath(opts.phys(path))
	if err != nil {
		return e, pathErr("lstat", path, err)
	}
	fillStat(e, &st, 0)
	return e, nil
}

// lstatBeneath lstat's path without following symlinks anywhere in it.
func lstatBeneath(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if path == "/" {
		return st, unix.Lstat("/", &st)
	}
	fd, err := openBeneath(merkle.Parent(path), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	return st, unix.Fstatat(fd, filepath.Base(path), &st, unix.AT_SYMLINK_NOFOLLOW)
}

// entry emits a root entry and, for a directory, its subtree.
func (w *walker) entry(ctx context.Context, e *merkle.Entry, dev uint64) error {
	switch e.Type {
	case merkle.TypeDir:
		descend := e.Dev == dev || w.opts.CrossFilesystems
		t := &dirTask{path: e.Path, expect: *e, rootDev: dev, descend: descend, idx: -1, done: make(chan struct{})}
		return w.dir(ctx, e, t)
	case merkle.TypeFile:
		c := child{e: e}
		w.self.file(&c, nil, -1)
		return w.emit(ctx, c, nil)
	case merkle.TypeSymlink:
		var err error
		e.Target, err = fsys.Readlinkat(unix.AT_FDCWD, w.opts.phys(e.Path))
		return w.send(ctx, item{e: e, err: errors.Join(pathErr("readlink", e.Path, err), w.self.pathXattrs(e, -1))})
	}
	return w.send(ctx, item{e: e, err: w.self.pathXattrs(e, -1)})
}

// dir emits directory e, then its children in order.
func (w *walker) dir(ctx context.Context, e *merkle.Entry, t *dirTask) error {
	l, err := w.await(ctx, t)
	if err != nil {
		return err
	}
	if l.dir != nil {
		defer l.dir.release()
	}
	defer l.dropRest() // after an early return
	if l.gone {
		return nil
	}
	if l.self.Ino != 0 && !sameFile(e, &l.self) {
		fillStat(e, &l.self, 0) // changed since it was listed: record what was read
	}
	e.Xattrs, e.Flags, e.HasFlags = l.xattrs, l.flags, l.hasFl
	e.Gen, e.HasGen, e.HashedAt = l.gen, l.hasGen, l.readAt
	if err := w.send(ctx, item{e: e, err: l.err}); err != nil {
		return err
	}
	for {
		for i, c := range l.kids {
			l.kids[i] = child{} // let what is emitted go: a listing lives as long as its subtree's walk
			var err error
			if c.task != nil && c.err == nil {
				err = w.dir(ctx, c.e, c.task)
			} else {
				err = w.emit(ctx, c, l.dir)
			}
			if err != nil {
				return err
			}
		}
		if l.rest == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		w.self.more(l, l.dir) // the next chunk of a huge directory
	}
}

// emit sends a non-directory child, queueing its file job first if it has
// one; dir is the open directory holding it (nil for a root).
func (w *walker) emit(ctx context.Context, c child, dir *dirFD) error {
	if !c.job || c.err != nil {
		return w.send(ctx, item{e: c.e, err: c.err})
	}
	j := &job{e: c.e, hash: c.hash, nostat: c.nostat, dir: dir, sampled: c.sampled, done: make(chan struct{})}
	if dir != nil {
		dir.hold()
	}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		if dir != nil {
			dir.release()
		}
		return ctx.Err()
	}
	return w.send(ctx, item{e: c.e, j: j})
}

// send queues it for the visitor, and sends the batch once it is full.
func (w *walker) send(ctx context.Context, it item) error {
	if w.batch == nil {
		select {
		case w.batch = <-w.free:
		default:
			w.batch = make([]item, 0, outBatch)
		}
	}
	w.batch = append(w.batch, it)
	if len(w.batch) < outBatch {
		return nil
	}
	return w.flush(ctx)
}

// flush sends the items queued, if any.
func (w *walker) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	select {
	case w.out <- w.batch:
		w.batch = nil // the visitor's now
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await returns t's listing, listing it here if no lister has started.
func (w *walker) await(ctx context.Context, t *dirTask) (*listing, error) {
	if w.sched.claim(t) {
		return w.self.list(t), nil
	}
	select {
	case <-t.done:
	default:
		// Not listed yet: let the visitor have what is queued meanwhile.
		if err := w.flush(ctx); err != nil {
			return nil, err
		}
		select {
		case <-t.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w.sched.consumed(t)
	l := t.result
	t.result = nil
	return l, nil
}

// errPath returns the path an error is about.
func errPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	return ""
}
