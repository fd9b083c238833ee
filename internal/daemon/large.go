package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/watch"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// Large files apart: a settled hint for a regular file of at least
// watch.large_file bytes is not verified with the others. It is said at
// once (a hash_pending event: the file, its size) and queued for a worker
// of its own, which runs the same scoped engine check of that one path and
// hands what it found back to the verifier's loop, where it becomes
// alerts like any other (or nothing, when the file is as recorded). Other
// alerts keep their latency whatever the worker is reading: it gives way,
// pausing between 256 KiB chunks while the loop verifies; a file hinted
// again while queued is queued once, one hinted while being read is read
// again afterwards (a growing file ends as the scanner's "unstable").
//
// # Caveats
//
// A whole check (the start, a lost event, the periodic scans) reads large
// files itself, as does the check of a directory hinted as a tree. Holes of a sparse file are
// not read, but their zeros are hashed: BLAKE3 of 256 GiB of holes costs
// CPU, now on the worker alone.

// largeItem is a file queued for the worker.
type largeItem struct {
	path   string
	size   int64
	eng    *engine.Engine // the configuration in force when it was queued
	queued time.Time
	proc   *watch.Process // who wrote it, when the intake said
}

// largeResult is what the worker found of one file.
type largeResult struct {
	path     string
	baseline uint64
	changes  []merkle.Change
	errs     []pathErr
	err      error // the check itself failed
	took     time.Duration
	proc     *watch.Process
}

type pathErr struct {
	path string
	err  error
}

// large is the queue and worker of large files, one per pipeline.
type large struct {
	min  int64
	mu   sync.Mutex
	q    []largeItem
	in   map[string]bool // queued or being read
	redo map[string]bool // hinted again while being read
	wake chan struct{}
	done chan largeResult

	// What the worker reads now (a progress record): its path, size, when
	// it began and its scanner counters.
	cur     atomic.Pointer[largeProgress]
	dbPath  string
	wait    time.Duration
	started func(path string) // tests: told when the worker begins a file
	// yield reports whether the worker is to give way (the verifier's
	// loop is busy): it then pauses between chunks of the file it reads.
	yield func() bool
}

type largeProgress struct {
	path  string
	size  int64
	began time.Time
	stats *scanner.Stats
}

func newLarge(cfg *config.Config, lockWait time.Duration) *large {
	min := cfg.Watch.LargeFile
	if min <= 0 {
		min = config.DefaultLargeFile
	}
	return &large{min: min, in: map[string]bool{}, redo: map[string]bool{}, wake: make(chan struct{}, 1),
		done: make(chan largeResult), dbPath: cfg.Database, wait: lockWait}
}

// apart takes the large regular files out of j (a job of settled hints)
// and queues them, and returns j without them and the hash_pending events
// saying so.
func (p *pipeline) apart(j job) (job, []alerts.Event) {
	if j.whole || p.large == nil || p.v.eng == nil {
		return j, nil
	}
	var keep []watch.Event
	var out []alerts.Event
	for _, ev := range j.events {
		e, err := engine.Glimpse(ev.Path, 0, nil)
		if err != nil || e == nil || e.Type != merkle.TypeFile || e.Size < p.large.min || !ev.Op.Has(watch.Changed) {
			keep = append(keep, ev)
			continue
		}
		if _, excluded := p.matcher.Match(ev.Path); excluded {
			continue
		}
		p.v.early.take([]string{ev.Path}, false) // not judged as a transient: verified apart
		now := time.Now()
		if p.large.add(largeItem{path: ev.Path, size: e.Size, eng: p.v.eng, queued: now, proc: ev.Process}) {
			pe := alerts.Notice("hash_pending", fmt.Sprintf("%d bytes: verified apart from other files; the verdict follows", e.Size), p.o.Host, now)
			pe.File = &alerts.File{Path: ev.Path, Type: "file", Size: &e.Size}
			pe.SetID("hash_pending:" + ev.Path + ":" + strconv.FormatInt(now.UnixNano(), 10))
			out = append(out, pe)
			p.o.Log.Info().Str("path", ev.Path).Int64("size", e.Size).Msg("large file: verified apart")
		}
	}
	j.events = keep
	return j, out
}

// add queues it unless its path is queued; a path being read is read
// again afterwards. It reports whether it was queued now.
func (l *large) add(it largeItem) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.in[it.path] {
		if c := l.cur.Load(); c != nil && c.path == it.path {
			l.redo[it.path] = true
		}
		return false
	}
	l.in[it.path] = true
	l.q = append(l.q, it)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// next returns the next file to read, ok false when none is queued.
func (l *large) next() (largeItem, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) == 0 {
		return largeItem{}, false
	}
	it := l.q[0]
	l.q = l.q[1:]
	return it, true
}

// finished forgets path, or queues it again when it was hinted meanwhile.
func (l *large) finished(it largeItem) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur.Store(nil)
	delete(l.in, it.path)
	if l.redo[it.path] {
		delete(l.redo, it.path)
		l.in[it.path] = true
		it.queued = time.Now()
		l.q = append(l.q, it)
	}
}

// pending returns how many files are queued or being read.
func (l *large) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.in)
}

// run is the worker: each queued file in turn until ctx is done. What is
// still queued then is left to the next start's whole check.
func (l *large) run(ctx context.Context) error {
	for {
		it, ok := l.next()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-l.wake:
				continue
			}
		}
		r := l.check(ctx, it)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case l.done <- r:
		case <-ctx.Done():
			return nil
		}
		l.finished(it)
	}
}

// check runs the engine's scoped check of the one file.
func (l *large) check(ctx context.Context, it largeItem) largeResult {
	st := &scanner.Stats{}
	l.cur.Store(&largeProgress{path: it.path, size: it.size, began: time.Now(), stats: st})
	if l.started != nil {
		l.started(it.path)
	}
	r := largeResult{path: it.path, proc: it.proc}
	db, err := store.Open(l.dbPath, store.Options{ReadOnly: true, Timeout: l.wait})
	if err != nil {
		r.err = err
		return r
	}
	defer db.Close()
	began := time.Now()
	pace := func() {
		for l.yield != nil && l.yield() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	res, err := it.eng.Check(ctx, db, engine.Request{Paths: []string{it.path}, Scan: true, Stats: st, Pace: pace}, engine.Funcs{
		OnChange: func(c merkle.Change) error { r.changes = append(r.changes, c); return nil },
		OnError:  func(p string, err error) error { r.errs = append(r.errs, pathErr{p, err}); return nil },
	})
	r.took, r.baseline, r.err = time.Since(began), res.Baseline.ID, err
	return r
}

// apply turns a large file's result into events, in the verifier's
// goroutine, against the current baseline; a result taken against another
// baseline (an update meanwhile) is thrown away and the file read again.
func (v *verifier) apply(cfg *config.Config, r largeResult, requeue func()) ([]alerts.Event, error) {
	if r.err != nil {
		if errors.Is(r.err, store.ErrLocked) {
			requeue()
			return nil, nil
		}
		return nil, r.err
	}
	db, err := store.Open(v.dbPath, store.Options{ReadOnly: true, Timeout: v.lockWait})
	if errors.Is(err, store.ErrLocked) {
		requeue()
		return nil, nil
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
	now := time.Now()
	verdict, evs, err := v.sealed(db, cfg, now)
	if err != nil || verdict.Untrusted != nil {
		return evs, err
	}
	if info.ID != r.baseline {
		requeue()
		return evs, nil
	}
	c := &collect{v: v, scope: fmt.Sprintf("%d:%x", info.ID, info.Root[:]), seen: map[string]bool{},
		changes: map[string]merkle.Action{}, restored: map[string]bool{}, now: now, phase: verdict.Phase.Phase,
		procs: map[string]*watch.Process{r.path: r.proc}}
	for _, ch := range r.changes {
		if err := c.change(ch); err != nil {
			return nil, err
		}
	}
	for _, e := range r.errs {
		if err := c.error(e.path, e.err); err != nil {
			return nil, err
		}
	}
	c.addFound()
	c.resolve([]string{r.path}, false)
	v.log.Info().Str("path", r.path).Dur("took", r.took).Int("changes", len(r.changes)).Msg("large file verified")
	return append(evs, c.out...), nil
}

// largeJob is the verifier's job of applying r.
func (p *pipeline) largeJob(r largeResult) job {
	return job{large: &r, requeue: func() {
		p.large.add(largeItem{path: r.path, eng: p.v.eng, queued: time.Now(), proc: r.proc})
	}}
}

// LargeStatus is /status's large: the files waiting for the large-file
// worker and the one it reads.
type LargeStatus struct {
	Pending int    `json:"pending"`
	Path    string `json:"path,omitempty"`
	Size    int64  `json:"size,omitempty"`
	// Read is how far into the file the worker is (bytes, holes included).
	Read  int64     `json:"read"`
	Began time.Time `json:"began,omitzero"`
}

// record returns the progress record, nil when the worker has nothing.
func (l *large) record() *LargeStatus {
	if l == nil {
		return nil
	}
	n := l.pending()
	c := l.cur.Load()
	if c == nil && n == 0 {
		return nil
	}
	r := &LargeStatus{Pending: n}
	if c != nil {
		r.Path, r.Size, r.Began = c.path, c.size, c.began
		r.Read = min(c.stats.Chunks.Load()*chunkSize, c.size)
	}
	return r
}

// chunkSize is the scanner's chunk: what each of Stats.Chunks stands for.
const chunkSize = 256 << 10

// status is the progress record of the worker, for STATUS= and /status.
func (l *large) status() string {
	if l == nil {
		return ""
	}
	c := l.cur.Load()
	n := l.pending()
	if c == nil && n == 0 {
		return ""
	}
	s := fmt.Sprintf(", %d large files to verify", n)
	if c != nil {
		read := c.stats.Chunks.Load() * chunkSize
		s += fmt.Sprintf(" (reading %s: %d of %d MiB in %s)", c.path, min(read, c.size)>>20, c.size>>20, time.Since(c.began).Round(time.Second))
	}
	return s
}
