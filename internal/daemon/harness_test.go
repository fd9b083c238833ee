package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// The daemon's tests run in one of two ways.
//
// Most run inside a testing/synctest bubble with a [scripted] source: the
// test sends the hints inotify would (after changing real files), time is
// the bubble's fake clock, and [host.settle] lets the pipeline (settle,
// verify, dispatch, retry) run until everything in it waits, after which
// what the [sink] holds is final. Nothing there may wait on the world
// outside the bubble: no inotify, no network, no child process.
//
// A few run outside, against real inotify, real processes or real
// sockets; they wait for what must come with [sink.await], a bounded wait
// on a channel.

// wait bounds how long a test waits for what must come (fake time in a
// bubble, where it costs nothing).
const wait = 15 * time.Second

// host is a tree with a baseline, and a daemon watching it.
type host struct {
	root, dir, db string
	cfg           *config.Config
	// src is the scripted intake, nil for real inotify.
	src  *scripted
	sink *sink
	// stats are the counters of the last start.
	stats *stats
	// hup stands for SIGHUP, unless signals says to take the real one.
	hup     chan os.Signal
	signals bool
	// mounts says the daemon follows the mount table (off by default:
	// polling it is no place for a synctest bubble).
	mounts bool

	cancel   func()
	done     chan error
	mu       sync.Mutex
	notified []string
}

// newHost makes tree, takes its baseline, and writes a configuration with
// the test's sink (the stdout sink) and extra appended. The daemon it
// starts reads hints from a scripted source.
func newHost(t *testing.T, tree fimtest.Tree, extra string) *host {
	t.Helper()
	return newHostFor(t, tree, func(string) string { return extra })
}

// newHostFor is newHost with configuration text that depends on the
// tree's root.
func newHostFor(t *testing.T, tree fimtest.Tree, extra func(root string) string) *host {
	t.Helper()
	h := newHostAt(t, t.TempDir(), tree, extra)
	h.init(t)
	return h
}

// newHostAt is newHostFor at root, without a baseline yet.
func newHostAt(t testing.TB, root string, tree fimtest.Tree, extra func(root string) string) *host {
	t.Helper()
	h := &host{root: root, dir: t.TempDir(), src: newScripted(), sink: newTestSink(), hup: make(chan os.Signal, 1)}
	tree.Make(t, h.root)
	fimtest.Age(t, h.root, fimtest.Past)
	h.db = filepath.Join(h.dir, "vigil.db")
	h.cfg = h.config(t, extra(h.root))
	return h
}

// inotify makes h's daemon watch with real inotify.
func (h *host) inotify() *host { h.src = nil; h.cfg.Watch.Intake = "inotify"; return h }

// fanotify makes h's daemon watch with real fanotify: only changes made by
// other processes than the test's (the daemon's) are seen.
func (h *host) fanotify() *host { h.src = nil; h.cfg.Watch.Intake = "fanotify"; return h }

// init takes the baseline, as vigil init does.
func (h *host) init(t testing.TB) {
	t.Helper()
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Init(context.Background(), db, engine.Options{Config: h.cfg, Host: "test"}); err != nil {
		t.Fatalf("engine.Init: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func (h *host) config(t testing.TB, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("database = %q\nroots = [%q]\nexclude = [%q]\n[watch]\nsettle = \"50ms\"\n[[sink]]\ntype = \"stdout\"\n%s",
		h.db, h.root, filepath.Join(h.root, "cache"), extra)
	c, err := config.Parse(filepath.Join(h.dir, "vigil.toml"), []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	return c
}

// path returns the absolute path of rel in the tree.
func (h *host) path(rel string) string { return filepath.Join(h.root, filepath.FromSlash(rel)) }

// start runs the daemon and waits for READY=1 (the start's whole check is
// in the outbox then).
func (h *host) start(t testing.TB, o Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	o.Config = h.cfg
	o.Host = "test"
	o.Stdout = h.sink
	o.FollowInterval = 100 * time.Millisecond
	if h.src != nil {
		o.Source = h.src.source
	}
	if !h.signals {
		o.hup = h.hup
	}
	o.noMounts = !h.mounts
	h.stats = newStats() // one Run's
	o.stats = h.stats
	ready := make(chan struct{})
	var once sync.Once
	o.Notify = func(s string) {
		h.mu.Lock()
		h.notified = append(h.notified, s)
		h.mu.Unlock()
		if s == "READY=1" {
			once.Do(func() { close(ready) })
		}
	}
	go func() { h.done <- Run(ctx, o) }()
	t.Cleanup(func() { h.stop(t) })
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	select {
	case <-ready:
	case err := <-h.done:
		h.done <- err
		t.Fatalf("Run ended before READY=1: %v", err)
	case <-deadline.C:
		t.Fatalf("no READY=1 within %v", wait)
	}
}

// startIdle is start in a bubble, returning once the daemon idles: the
// start's events are delivered then (unless the sink is down).
//
// The keyed sample of whole checks is off there: its state file is judged
// by its ctime (the kernel's clock) against the time it records (the
// wall clock: the bubble's fake one), so every state file would look
// replaced. sample_test.go tests the daemon's sample, outside a bubble.
func (h *host) startIdle(t *testing.T, o Options) {
	t.Helper()
	h.cfg.RereadWithin = 0
	h.start(t, o)
	synctest.Wait()
}

// stop ends the daemon (as SIGTERM does) and checks Run's error.
func (h *host) stop(t testing.TB) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-deadline.C:
		t.Errorf("Run did not stop within %v", wait)
	}
}

// notifications returns what the daemon told the service manager.
func (h *host) notifications() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.notified...)
}

// hint sends the hint inotify would for rel (Changed) to the scripted
// source.
func (h *host) hint(rels ...string) {
	for _, rel := range rels {
		h.src.send(watch.Event{Path: h.path(rel), Op: watch.Changed})
	}
}

// write writes text to rel and sends its hint.
func (h *host) write(t *testing.T, rel, text string) {
	t.Helper()
	if err := os.WriteFile(h.path(rel), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h.hint(rel)
}

// settle lets the bubble's fake clock run for d (covering the settle
// window) and returns once every goroutine of the daemon waits: what it
// was going to verify, publish and deliver by then is done. Bubbles only:
// outside one it would wait d for real.
func (h *host) settle(d time.Duration) {
	synctest.Wait() // panics at once outside a bubble
	<-time.After(d)
	synctest.Wait()
}

// scripted is a [watch.Source] that emits what the test sends. It is
// [watch.Ready] at once, and reports the coverage it is given. One
// scripted source serves every run of the daemon (restarts, reloads);
// hints sent while no run reads them wait for the next.
type scripted struct {
	hints chan watch.Event
	mu    sync.Mutex
	cov   watch.Coverage
	opts  []watch.Options // of each run, in order
}

func newScripted() *scripted {
	return &scripted{hints: make(chan watch.Event, 1<<16), cov: watch.Coverage{Watched: 1}}
}

// source is [Options.Source].
func (s *scripted) source(o watch.Options) (watch.Source, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = append(s.opts, o)
	return s, nil
}

func (s *scripted) send(ev watch.Event) { s.hints <- ev }

// Run implements [watch.Source].
func (s *scripted) Run(ctx context.Context, emit func(watch.Event)) error {
	emit(watch.Event{Op: watch.Ready})
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-s.hints:
			emit(ev)
		}
	}
}

// Coverage implements [watch.Source].
func (s *scripted) Coverage() watch.Coverage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cov
}

// sink is the writer of the stdout sink: each line is one event. While
// down it refuses every write (the dispatcher keeps the events queued and
// retries).
type sink struct {
	mu sync.Mutex
	// raw are the lines written, evs the first of them decoded: Write
	// only keeps a line, so that the test's decoding does not take the
	// daemon's CPU (the burst benchmark reads raw lines only).
	raw     [][]byte
	evs     []alerts.Event
	down    bool
	refused int
	// changed has a value after each write, accepted or not.
	changed chan struct{}
}

func newTestSink() *sink { return &sink{changed: make(chan struct{}, 1)} }

func (s *sink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}()
	if s.down {
		s.refused++
		return 0, errSinkDown
	}
	s.raw = append(s.raw, bytes.Clone(b))
	return len(b), nil
}

// decoded decodes the lines written since the last call; under s.mu.
func (s *sink) decoded() []alerts.Event {
	for _, b := range s.raw[len(s.evs):] {
		var ev alerts.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			ev.Event.Action = fmt.Sprintf("test sink: %q: %v", b, err) // fails the test's expectations
		}
		s.evs = append(s.evs, ev)
	}
	return s.evs
}

var errSinkDown = errors.New("test sink down")

func (s *sink) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *sink) refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// events returns what the sink accepted, in order.
func (s *sink) events() []alerts.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alerts.Event(nil), s.decoded()...)
}

// await waits until the events accepted satisfy ok and returns them; it
// fails the test after [wait].
func (s *sink) await(t testing.TB, what string, ok func([]alerts.Event) bool) []alerts.Event {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		evs := s.events()
		if ok(evs) {
			return evs
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("no %s within %v; events:\n%s", what, wait, describe(evs))
		}
	}
}

// readEvents returns the events a file sink wrote to path.
func readEvents(t *testing.T, path string) []alerts.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// Complete lines only: the sink may be writing the last one.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []alerts.Event
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev alerts.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, ev)
	}
	return out
}

func describe(evs []alerts.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		p := ""
		if ev.File != nil {
			p = ev.File.Path
		}
		msg := ""
		if ev.Error != nil {
			msg = ev.Error.Message
		}
		fmt.Fprintf(&b, "  %s %s %s %s\n", ev.Event.Action, p, ev.Event.ID, msg)
	}
	return b.String()
}

// find returns the events of action at path.
func find(evs []alerts.Event, action, path string) []alerts.Event {
	var out []alerts.Event
	for _, ev := range evs {
		if ev.Event.Action == action && ev.File != nil && ev.File.Path == path {
			out = append(out, ev)
		}
	}
	return out
}

func has(action, path string) func([]alerts.Event) bool {
	return func(evs []alerts.Event) bool { return len(find(evs, action, path)) > 0 }
}

// actions returns the events of action, whatever they are about.
func actions(evs []alerts.Event, action string) []alerts.Event {
	var out []alerts.Event
	for _, ev := range evs {
		if ev.Event.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

func count(evs []alerts.Event, action string) int { return len(actions(evs, action)) }
