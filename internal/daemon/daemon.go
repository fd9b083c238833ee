package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/watch"
	"vigil/merkle"
	"vigil/store"
)

// Options configure [Run]. Zero values mean the defaults.
type Options struct {
	// Config is the configuration to start with; its Database is the
	// baseline database (read only) and OutboxPath the outbox.
	Config *config.Config
	// Reload loads the configuration again, on SIGHUP. A configuration it
	// refuses (an error) leaves the running one in place. Nil: SIGHUP is
	// logged and ignored.
	Reload func() (*config.Config, error)
	// Log receives the daemon's log; the zero value logs nothing.
	Log zerolog.Logger
	// Stdout is where the stdout sink writes.
	Stdout io.Writer
	// Notify, if set, is told the daemon's state in sd_notify's terms
	// ("READY=1", "STATUS=...", "WATCHDOG=1", "RELOADING=1", "STOPPING=1").
	Notify func(state string)
	// Watchdog is how often WATCHDOG=1 is sent; 0: never.
	Watchdog time.Duration
	// Host and Version go into events.
	Host, Version string
	// FollowInterval is how often the database file is looked at for a
	// new current baseline; 0 means 2 s.
	FollowInterval time.Duration
	// LockWait bounds each wait for the database's lock (held by an
	// update); 0 means 2 s, after which the work is retried later.
	LockWait time.Duration
	// Restorer does the "restore" remediation; nil: a configuration asking
	// for it is refused (see [CheckRemediation]).
	Restorer Restorer
	// QueuedSequence, if set, is where the daemon keeps the highest
	// event.sequence its outbox queued, for the fleet agent's heartbeat
	// (fleet.Agent.Sequence); 0 means unknown (no per-host sequence yet:
	// the outbox's sequence fills it).
	QueuedSequence *atomic.Uint64
	// Witness, if set, gives the checkpoint the fleet's witnesses
	// cosigned, which the trust decision requires the audit log to extend
	// (see [engine.Witness]); nil: no fleet.
	Witness engine.Witness
	// Source makes the intake of hints for the roots, exclusions and
	// fallback interval given, once per configuration (a reload makes a
	// new one); nil means the one config watch.intake names.
	Source func(watch.Options) (watch.Source, error)

	// hup, if set, stands for SIGHUP (tests: no signal handler is
	// installed then).
	hup <-chan os.Signal
	// stats, if set, receives the counters (tests).
	stats *stats
	// onListen, if set, is told the HTTP listener's address (tests).
	onListen func(addr string)
	// outboxReserve and retryFull, if set, replace the outbox reserve's
	// size and the retry interval of a full outbox (tests).
	outboxReserve int64
	retryFull     time.Duration
	// healthAfter, if set, replaces both thresholds of /healthz: a sink
	// failing, a verification running (tests).
	healthAfter time.Duration
	// noMounts leaves the mount table alone (tests in a synctest bubble,
	// where polling it would wait on the world outside).
	noMounts bool
	// largeStarted, if set, is told when the worker of large files begins
	// one (tests).
	largeStarted func(path string)
	// onStages, if set, is told the times each batch of settled hints
	// went through (benchmarks; see stages.go).
	onStages func(*stages)
	// hintBatch, if positive, replaces the bound on the settled hints
	// verified as one batch (the constant hintBatch); negative: none.
	hintBatch int
	// outboxCheck, if set, replaces how often the outbox file is checked
	// while the daemon runs (tests; outboxcheck.go).
	outboxCheck time.Duration
}

// newSource returns the intake for wo: the one config watch.intake names.
func (o *Options) newSource(intake string, wo watch.Options) (watch.Source, error) {
	if o.Source != nil {
		return o.Source(wo)
	}
	return newIntake(intake, wo)
}

func (o *Options) notify(state string) {
	if o.Notify != nil {
		o.Notify(state)
	}
}

// errReload ends one run of the pipeline so that the next one starts with
// a new configuration.
var errReload = errors.New("reload")

// Run runs the watch until ctx is done (SIGTERM, SIGINT), and returns nil
// then, once pending hints are verified and their events are in the
// outbox. It fails if the database holds no baseline or the outbox is held
// by another daemon.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	if err := CheckRemediation(cfg, o.Restorer); err != nil {
		return err // before anything is opened: a refused start changes nothing
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	hup := o.hup
	if hup == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		defer signal.Stop(c)
		hup = c
	}
	st := o.stats
	if st == nil {
		st = newStats()
	}
	v := &verifier{
		dbPath: cfg.Database, host: o.Host, version: o.Version, log: o.Log, witness: o.Witness,
		lockWait: o.LockWait, alerted: map[string]string{}, resolved: map[string]int{}, dirty: map[string]bool{}, stats: st,
	}
	if v.lockWait <= 0 {
		v.lockWait = 2 * time.Second
	}
	var sinks []string // of the run before a reload
	for {
		p := &pipeline{o: &o, cfg: cfg, v: v, st: st, hup: hup, before: sinks}
		err := p.run(ctx)
		if !errors.Is(err, errReload) {
			return err
		}
		cfg, sinks = p.next, p.sinks
		o.Log.Info().Str("config", cfg.Source).Msg("configuration reloaded")
	}
}

// pipeline is one run with one configuration: intake, settling,
// verification and delivery.
type pipeline struct {
	o    *Options
	cfg  *config.Config
	next *config.Config // set on a reload
	v    *verifier
	st   *stats
	hup  <-chan os.Signal

	src      watch.Source
	matcher  *config.Matcher
	roots    []string
	settler  *watch.Settler
	disp     *alerts.Dispatcher
	jobs     chan job
	catchUp  chan job
	dbStamp  time.Time
	outboxDB *store.Outbox
	ln       net.Listener
	flood    *flood
	// sinks are the routes of this run; before, those of the run before
	// a reload (nil at the start).
	sinks, before []string
	large         *large   // large files' queue and worker (large.go)
	remade        *remade  // the intake, when made anew on mount changes (nil: tests' scripted one)
	prog          progress // for the watchdog (progress.go)
	out           *stage   // delivery after the verifier (burst.go)
}

func (p *pipeline) run(ctx context.Context) (err error) {
	cfg := p.cfg
	ob, err := store.OpenOutbox(cfg.OutboxPath(), cfg.Watch.OutboxMax)
	if err != nil {
		return err
	}
	p.outboxDB = ob
	defer func() { err = errors.Join(err, ob.Close()) }()
	if err := p.v.load(ob); err != nil {
		return err
	}
	rs, err := routes(cfg, p.o.Stdout)
	if err != nil {
		return err
	}
	m, err := cfg.Matcher()
	if err != nil {
		return err
	}
	p.flood = newFlood(cfg, m, p.o.Host)
	if rem := newRemediator(cfg, m, p.o.Restorer, p.o.Log, p.st); rem != nil {
		p.flood.keep = rem.wants
		rem.publish = func(evs ...alerts.Event) error { p.st.alerts.Add(int64(len(evs))); return p.disp.Publish(evs...) }
		rem.standing, rem.sealed = p.v.standing, p.v.signed.Load
		rem.restoring, rem.intact = p.restoring, p.v.restoredLive
		rs = append(rs, alerts.Route{Name: remediationRoute, Sink: rem, Filter: alerts.Filter{Event: rem.wants}})
	}
	p.disp = &alerts.Dispatcher{
		Outbox: outbox{Outbox: ob, reserve: p.o.outboxReserve}, Routes: rs, Host: p.o.Host,
		RetryFull: p.o.retryFull, OnFull: p.onFull, OnQueued: p.queued,
		OnError: func(sink string, err error) {
			p.st.failures.Add(1)
			p.st.sinks.failed(sink, time.Now())
			p.o.Log.Warn().Str("sink", sink).Err(err).Msg("delivery failed; retrying")
		},
		OnDelivered: func(sink string, n int) { p.st.delivered.Add(int64(n)); p.st.sinks.delivered(sink) },
		OnDropped:   p.st.sinks.dropped,
	}
	if seq, err := ob.Sequence(); err == nil {
		p.queued(seq)
	}
	if err := p.reportGaps(); err != nil {
		return err
	}
	for _, r := range rs {
		p.sinks = append(p.sinks, r.Name)
	}
	if p.before != nil {
		added := slices.DeleteFunc(slices.Clone(p.sinks), func(s string) bool { return slices.Contains(p.before, s) })
		if err := p.sendStanding(added); err != nil {
			p.o.Log.Error().Err(err).Msg("the standing alerts were not sent to the sinks added")
		}
	}
	roots, err := p.baselineRoots()
	if err != nil {
		return err
	}
	m = engine.SkipOwn(cfg, m, roots) // vigil's snapshots and quarantine: neither watched nor verified
	p.matcher, p.roots = m, roots
	if cfg.Watch.Listen != "" {
		if p.ln, err = net.Listen("tcp", cfg.Watch.Listen); err != nil {
			return err
		}
		p.o.Log.Info().Str("address", p.ln.Addr().String()).Msg("HTTP listener: /metrics, /healthz, /status")
		if p.o.onListen != nil {
			p.o.onListen(p.ln.Addr().String())
		}
	}
	mk := func() (watch.Source, error) {
		return p.o.newSource(cfg.Watch.Intake, watch.Options{
			Roots:            roots,
			Excluded:         func(path string) bool { _, ex := m.Match(path); return ex },
			FallbackInterval: scanInterval(cfg) / 4,
		})
	}
	if p.o.Source == nil { // a real intake: made anew when mounts change (remade.go)
		p.remade, err = newRemade(mk, p.remakeFailed)
		p.src = p.remade
	} else {
		p.src, err = mk()
	}
	if err != nil {
		return err
	}
	p.settler = &watch.Settler{Window: cfg.Watch.Settle, Max: cfg.Watch.MaxSettle, Batch: hintBatch}
	if p.o.hintBatch != 0 {
		p.settler.Batch = max(p.o.hintBatch, 0)
	}
	var mw *mountWatch // opened before the start's check: no change is missed
	if !p.o.noMounts {
		if mw, err = openMounts(); err != nil {
			p.o.Log.Error().Err(err).Msg("mount changes are not followed")
		}
	}
	p.jobs = make(chan job)
	p.catchUp = make(chan job, 1)
	p.large = newLarge(cfg, p.v.lockWait)
	p.large.started = p.o.largeStarted
	p.large.yield = func() bool { return p.prog.busy.Load() != 0 }

	dctx, dcancel := context.WithCancel(context.Background())
	derr := make(chan error, 1)
	go func() { derr <- p.disp.Run(dctx) }()
	defer func() {
		dcancel()
		err = errors.Join(err, <-derr)
	}()

	g, gctx := errgroup.WithContext(ctx)
	ictx, icancel := context.WithCancel(gctx) // the intake stops first
	g.Go(func() error { return p.src.Run(ictx, p.hint) })
	g.Go(func() error { return p.settler.Run(ictx, p.settled(ictx)) })
	g.Go(func() error { defer icancel(); return p.verify(gctx) })
	g.Go(func() error { return p.large.run(gctx) })
	g.Go(func() error { return p.watchOutbox(ictx) })
	if p.o.Watchdog > 0 {
		g.Go(func() error { return p.watchdog(ictx) })
	}
	if p.ln != nil {
		g.Go(func() error { return p.serve(ictx, p.ln) })
	}
	if mw != nil {
		g.Go(func() error {
			if err := mw.run(ictx, p.mountsChanged); err != nil {
				p.o.Log.Error().Err(err).Msg("mount changes are no longer followed")
			}
			return nil
		})
	}
	return g.Wait()
}

// baselineRoots returns the current baseline's roots: what it records is
// what is watched.
func (p *pipeline) baselineRoots() ([]string, error) {
	db, err := store.Open(p.cfg.Database, store.Options{ReadOnly: true, Timeout: p.v.lockWait})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		return nil, err
	}
	return cur.Info().Roots, nil
}

func scanInterval(c *config.Config) time.Duration {
	if c.Watch.ScanInterval > 0 {
		return c.Watch.ScanInterval
	}
	return time.Hour
}

func fullScanInterval(c *config.Config) time.Duration {
	if c.Watch.FullScanInterval > 0 {
		return c.Watch.FullScanInterval
	}
	return 24 * time.Hour
}

// hint receives the intake's events (on its goroutine: it must not block).
func (p *pipeline) hint(ev watch.Event) {
	p.st.hints.Add(1)
	switch {
	case ev.Op.Has(watch.Ready):
		p.logIntake(p.src.Coverage())
		p.requestWhole(job{whole: true, why: "start"})
	case ev.Op.Has(watch.Lost):
		// Settled like any hint: a burst that overflows the queue again and
		// again is caught up once it calms down (or after max_settle).
		if p.st.lost.Add(1) == 1 || p.settler.Len() == 0 {
			p.o.Log.Warn().Err(ev.Err).Msg("events lost; catching up with a whole check")
		}
		p.settler.Add(watch.Event{Path: lostKey, Op: watch.Lost})
	case p.inExcluded(ev.Path):
		// A source watches no excluded directory, but one that watches
		// whole filesystems sees changes below them: no hints.
	default:
		p.v.early.look(ev, p.matcher) // before it settles: see transient.go
		p.settler.Add(ev)
	}
}

// inExcluded reports whether path or a directory above it, up to its
// root, is excluded.
func (p *pipeline) inExcluded(path string) bool {
	for q := path; q != ""; q = merkle.Parent(q) {
		if _, ex := p.matcher.Filter(q, q != path); ex {
			return true
		}
		if slices.Contains(p.roots, q) {
			return false
		}
	}
	return false
}

// lostKey is the settler's key for lost events: no path is empty.
const lostKey = ""

// requestWhole asks for a whole check unless one is waiting already.
func (p *pipeline) requestWhole(j job) {
	select {
	case p.catchUp <- j:
	default:
	}
}

// settled hands settled hints to the verifier.
func (p *pipeline) settled(ctx context.Context) func([]watch.Event) {
	return func(evs []watch.Event) {
		j := job{events: evs, settled: time.Now()}
		for _, ev := range evs {
			if ev.Op.Has(watch.Lost) {
				j = job{whole: true, why: "events_lost"}
			}
		}
		select {
		case p.jobs <- j:
		case <-ctx.Done():
			for _, ev := range evs {
				p.settler.Add(ev) // flushed at the stop
			}
		}
	}
}

func (p *pipeline) watchdog(ctx context.Context) error {
	t := time.NewTicker(p.o.Watchdog)
	defer t.Stop()
	stalled := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			ok, who := p.alive(now)
			if !ok && !stalled {
				p.o.Log.Error().Str("stalled", who).Msg("verification makes no progress: the watchdog is no longer fed")
			}
			if stalled = !ok; ok {
				p.o.notify("WATCHDOG=1")
			}
		}
	}
}

// verify is the verifier's loop: every job in turn, until ctx is done;
// then what is still settling is verified and published.
func (p *pipeline) verify(ctx context.Context) error {
	scan := time.NewTicker(scanInterval(p.cfg))
	defer scan.Stop()
	full := time.NewTicker(fullScanInterval(p.cfg))
	defer full.Stop()
	followEvery := p.o.FollowInterval
	if followEvery <= 0 {
		followEvery = 2 * time.Second
	}
	follow := time.NewTicker(followEvery)
	defer follow.Stop()
	floodTick := time.NewTicker(max(p.flood.window/4, 10*time.Millisecond))
	defer floodTick.Stop()
	postureTick := time.NewTicker(postureInterval(p.cfg))
	defer postureTick.Stop()
	nixTick := time.NewTicker(nixInterval(p.cfg))
	defer nixTick.Stop()
	p.dbStamp = stamp(p.cfg.Database)
	p.out = p.startStage()
	defer p.out.close()
	for {
		var j job
		select {
		case <-ctx.Done():
			return p.stop()
		case <-p.out.failed:
			return p.out.err // the outbox cannot be written: nothing is durable
		case j = <-p.catchUp:
		case j = <-p.jobs:
			j = p.topUp(j) // what settled while it waited (burst.go)
		case r := <-p.large.done:
			j = p.largeJob(r)
		case <-scan.C:
			j = job{whole: true, why: "scan"}
		case <-full.C:
			j = job{whole: true, full: true, why: "full_scan"}
		case <-postureTick.C:
			if !p.cfg.Posture.Enable {
				continue
			}
			j = job{posture: true, why: "posture"}
		case <-nixTick.C:
			if on, _ := engine.NixEnabled(p.cfg); !on {
				continue
			}
			j = job{nix: true, why: "nix"}
		case <-follow.C:
			if s := stamp(p.cfg.Database); !s.Equal(p.dbStamp) {
				p.dbStamp = s
				j = job{} // opens the database: a new baseline is followed
			} else if p.v.nixMoved(p.cfg) {
				j = job{nix: true, why: "nix_closure"} // a new system generation (or the first look)
			} else {
				continue
			}
		case <-floodTick.C:
			if err := p.publishCoalesced(time.Now(), false); err != nil {
				return err
			}
			continue
		case <-p.hup:
			if p.reload() {
				p.o.notify("RELOADING=1")
				return errors.Join(p.stop(), errReload)
			}
			continue
		}
		if err := p.do(ctx, j); err != nil {
			return err
		}
	}
}

// do runs one job and publishes its events. A busy database puts the job
// back; a failed check is logged and the job dropped, but for a whole
// check, which is asked for again.
func (p *pipeline) do(ctx context.Context, j job) error {
	j, pending := p.apart(j) // large files: their own worker (large.go)
	j.stats = p.prog.begin()
	defer p.prog.end()
	tm := stages{events: j.events, settled: j.settled, start: time.Now()}
	p.st.sinks.verifyStarted(tm.start)
	evs, err := p.v.run(ctx, p.cfg, j)
	p.st.sinks.verifyDone()
	tm.checked = time.Now()
	evs = append(pending, evs...)
	standing := evs // saved as standing after they are published, as the alerted states
	switch {
	case ctx.Err() != nil:
		for _, ev := range j.events {
			p.settler.Add(ev)
		}
		return nil
	case errors.Is(err, errBusy):
		p.o.Log.Info().Msg("database locked by a writer; verifying later")
		p.requeue(j)
		return nil
	case errors.Is(err, store.ErrNoBaseline):
		return err
	case err != nil:
		p.o.Log.Error().Err(err).Str("why", j.why).Msg("verification failed")
		p.requeue(j)
		return nil
	}
	if j.whole {
		evs = append(evs, p.notice(j))
	}
	// A whole check reports each difference once: not coalesced (it is
	// how a flood that overflowed the intake is caught up).
	now := time.Now()
	if !j.whole {
		evs = p.flood.filter(evs, now)
	}
	evs = append(p.flood.flush(now, false), evs...)
	p.st.alerts.Add(int64(len(evs)))
	// A batch of hints is delivered while the next is checked; the rest
	// (and READY=1 after the start's check) once delivered.
	d := delivery{evs: evs, standing: standing, saveStanding: true, states: p.v.takeDirty()}
	hints := !j.whole && j.large == nil && !j.posture && !j.nix
	if hints && p.o.onStages != nil {
		d.tm = &tm
	}
	if err := p.out.send(d, !hints); err != nil {
		return err // the outbox cannot be written: nothing is durable
	}
	if j.whole && j.why == "start" && !p.st.isReady() {
		p.st.setReady()
		p.o.notify("READY=1")
	}
	p.o.notify("STATUS=" + p.status())
	return nil
}

func (p *pipeline) requeue(j job) {
	if j.whole {
		p.requestWhole(j)
		return
	}
	for _, ev := range j.events {
		p.settler.Add(ev)
	}
}

// notice is the event closing a whole check.
func (p *pipeline) notice(j job) alerts.Event {
	ev := alerts.Notice("catch_up", "", p.o.Host, time.Now())
	ev.Event.Action = j.why
	return ev
}

// stop verifies and publishes what is still settling.
func (p *pipeline) stop() error {
	p.o.notify("STOPPING=1")
	evs := p.settler.Flush()
	if len(evs) == 0 {
		return p.publishCoalesced(time.Now(), true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := p.v.run(ctx, p.cfg, job{events: evs})
	if err != nil {
		p.o.Log.Warn().Err(err).Int("paths", len(evs)).Msg("pending paths not verified at the stop; the next start's catch-up covers them")
		return nil
	}
	now := time.Now()
	out = append(p.flood.filter(out, now), p.flood.flush(now, true)...)
	return p.out.send(delivery{evs: out, states: p.v.takeDirty()}, true)
}

// publishCoalesced publishes the flood window's summaries if it is over
// (or force is set).
func (p *pipeline) publishCoalesced(now time.Time, force bool) error {
	evs := p.flood.flush(now, force)
	if len(evs) == 0 {
		return nil
	}
	p.st.alerts.Add(int64(len(evs)))
	return p.out.send(delivery{evs: evs}, false) // after what the verifier found before
}

// reload loads the configuration anew; it reports whether it is to be used.
func (p *pipeline) reload() bool {
	if p.o.Reload == nil {
		p.o.Log.Warn().Msg("SIGHUP: no configuration file to reload")
		return false
	}
	c, err := p.o.Reload()
	if err == nil {
		err = CheckRemediation(c, p.o.Restorer)
	}
	if err != nil {
		p.o.Log.Error().Err(err).Msg("SIGHUP: configuration refused; the running one is kept")
		return false
	}
	if c.Database != p.cfg.Database || c.OutboxPath() != p.cfg.OutboxPath() {
		p.o.Log.Warn().Msg("SIGHUP: the database and outbox paths are kept until a restart")
		c.Database, c.Watch.Outbox = p.cfg.Database, p.cfg.OutboxPath()
	}
	p.next = c
	return true
}

// stamp is what changes when the database is written.
func stamp(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func (s *stats) isReady() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.ready }
func (s *stats) setReady()     { s.mu.Lock(); s.ready = true; s.mu.Unlock() }

func (p *pipeline) status() string {
	cov := p.src.Coverage()
	s := "watching " + itoa(cov.Watched) + " directories"
	if cov.Intake == "fanotify" {
		s = "watching " + itoa(len(cov.Filesystems)) + " filesystems (fanotify) and " + itoa(cov.Watched) + " directories (inotify)"
	}
	if len(cov.Fallback) > 0 {
		s += ", " + itoa(len(cov.Fallback)) + " subtrees scanned periodically (watch limit)"
	}
	return s + ", " + itoa(len(p.v.alerted)) + " paths differ from the baseline" + p.large.status()
}
