package daemon

import (
	"context"
	"sync"

	"vigil/internal/watch"
)

// remade is the intake of a run, made anew when the mounts under the roots
// change: a filesystem mounted there after the start is marked by a new
// fanotify group (or watched by inotify where fanotify cannot mark it, and
// by a new inotify intake), so that a change in it is a hint like any
// other instead of waiting for the next scan. The new intake runs beside
// the old one until its marks are in place (its Ready), then the old one
// stops, and the subtrees named in the request are hinted again: what
// changed in them before the new marks were in place is verified after
// (one change seen by both intakes is verified twice, which says nothing
// new). Only the first intake's Ready reaches the daemon: the start's
// check is done once.
type remade struct {
	mk    func() (watch.Source, error)
	again chan struct{} // buffered: a request to make it anew
	// failed is told when a new intake cannot be made (the old one goes
	// on).
	failed func(error)

	mu      sync.Mutex
	cur     watch.Source
	pending []string // subtrees to hint once a new intake is in place
}

// newRemade makes the first intake with mk, which makes each new one.
func newRemade(mk func() (watch.Source, error), failed func(error)) (*remade, error) {
	src, err := mk()
	if err != nil {
		return nil, err
	}
	return &remade{mk: mk, again: make(chan struct{}, 1), failed: failed, cur: src}, nil
}

// Coverage implements [watch.Source]: the current intake's.
func (r *remade) Coverage() watch.Coverage {
	r.mu.Lock()
	src := r.cur
	r.mu.Unlock()
	return src.Coverage()
}

// remake asks for a new intake, after which each of paths is hinted
// again (a [watch.Tree]); safe from any goroutine, never blocks.
func (r *remade) remake(paths ...string) {
	r.mu.Lock()
	r.pending = append(r.pending, paths...)
	r.mu.Unlock()
	select {
	case r.again <- struct{}{}:
	default:
	}
}

// running is one intake's Run in progress.
type running struct {
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{}
}

// Run implements [watch.Source]. emit is called from one goroutine at a
// time, as the contract says, also while two intakes overlap.
func (r *remade) Run(ctx context.Context, emit func(watch.Event)) error {
	var mu sync.Mutex
	start := func(src watch.Source, first bool) *running {
		sctx, cancel := context.WithCancel(ctx)
		run := &running{cancel: cancel, done: make(chan error, 1), ready: make(chan struct{})}
		var once sync.Once
		go func() {
			run.done <- src.Run(sctx, func(ev watch.Event) {
				if ev.Op.Has(watch.Ready) {
					once.Do(func() { close(run.ready) })
					if !first {
						return
					}
				}
				mu.Lock()
				defer mu.Unlock()
				emit(ev)
			})
		}()
		return run
	}
	r.mu.Lock()
	cur := start(r.cur, true)
	r.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			cur.cancel()
			return <-cur.done
		case err := <-cur.done:
			cur.cancel()
			return err
		case <-r.again:
		}
		src, err := r.mk()
		if err != nil {
			r.failed(err)
			continue
		}
		next := start(src, false)
		select {
		case <-next.ready:
		case err := <-next.done: // it failed before its marks were in place
			next.cancel()
			if err == nil {
				err = ctx.Err()
			}
			if ctx.Err() == nil {
				r.failed(err)
				continue
			}
			cur.cancel()
			return <-cur.done
		case err := <-cur.done:
			next.cancel()
			<-next.done
			return err
		}
		cur.cancel()
		if err := <-cur.done; err != nil {
			r.failed(err)
		}
		r.mu.Lock()
		r.cur = src
		again := r.pending
		r.pending = nil
		r.mu.Unlock()
		cur = next
		mu.Lock()
		for _, p := range again {
			emit(watch.Event{Path: p, Op: watch.Tree})
		}
		mu.Unlock()
	}
}

// remakeFailed logs a new intake that could not be made: the old one goes
// on, and the subtree checks of the mount change and the periodic scans
// cover the new mount.
func (p *pipeline) remakeFailed(err error) {
	p.o.Log.Error().Err(err).Msg("the intake could not be made anew after a mount change; a new mount is covered by scans only")
}
