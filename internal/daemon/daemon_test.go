package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// wait bounds how long a test waits for what must come.
const wait = 15 * time.Second

// host is a tree with a baseline, and a daemon watching it.
type host struct {
	root, dir, db, events string
	cfg                   *config.Config
	cancel                func()
	done                  chan error
	log                   *bytes.Buffer
	mu                    sync.Mutex
	notified              []string
	hints                 atomic.Int64
}

// newHost makes tree, takes its baseline, and writes a configuration with a
// file sink (events) and extra appended.
func newHost(t *testing.T, tree fimtest.Tree, extra string) *host {
	t.Helper()
	return newHostFor(t, tree, func(string) string { return extra })
}

// newHostFor is newHost with configuration text that depends on the
// tree's root.
func newHostFor(t *testing.T, tree fimtest.Tree, extra func(root string) string) *host {
	t.Helper()
	h := &host{root: t.TempDir(), dir: t.TempDir()}
	tree.Make(t, h.root)
	fimtest.Age(t, h.root, fimtest.Past)
	h.db = filepath.Join(h.dir, "vigil.db")
	h.events = filepath.Join(h.dir, "events.json")
	h.cfg = h.config(t, extra(h.root))
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
	return h
}

func (h *host) config(t *testing.T, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("database = %q\nroots = [%q]\nexclude = [%q]\n[watch]\nsettle = \"50ms\"\n[[sink]]\ntype = \"file\"\npath = %q\n%s",
		h.db, h.root, filepath.Join(h.root, "cache"), h.events, extra)
	c, err := config.Parse(filepath.Join(h.dir, "vigil.toml"), []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	return c
}

// start runs the daemon and waits for READY=1.
func (h *host) start(t *testing.T, o Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done, h.log = cancel, make(chan error, 1), &bytes.Buffer{}
	o.Config = h.cfg
	o.Host = "test"
	o.Log = zerolog.New(syncWriter{h}).Level(zerolog.InfoLevel)
	o.FollowInterval = 100 * time.Millisecond
	hook := o.onHint
	o.onHint = func(ev watch.Event) {
		h.hints.Add(1)
		if hook != nil {
			hook(ev)
		}
	}
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
	select {
	case <-ready:
	case err := <-h.done:
		h.done <- err
		t.Fatalf("Run ended before READY=1: %v\nlog:\n%s", err, h.logText())
	case <-time.After(wait):
		t.Fatalf("no READY=1 within %v\nlog:\n%s", wait, h.logText())
	}
}

type syncWriter struct{ h *host }

func (w syncWriter) Write(b []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return w.h.log.Write(b)
}

func (h *host) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

// stop ends the daemon (as SIGTERM does) and returns Run's error.
func (h *host) stop(t *testing.T) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v\nlog:\n%s", err, h.logText())
		}
	case <-time.After(wait):
		t.Errorf("Run did not stop within %v", wait)
	}
}

// readEvents returns the events the file sink has written, whole lines
// only (the sink may be writing the next).
func readEvents(t *testing.T, path string) []alerts.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	var out []alerts.Event
	for _, line := range lines[:len(lines)-1] {
		var ev alerts.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, ev)
	}
	return out
}

// await waits until the events written satisfy ok and returns them.
func await(t *testing.T, path, what string, ok func([]alerts.Event) bool) []alerts.Event {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		evs := readEvents(t, path)
		if ok(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; events:\n%s", what, wait, describe(evs))
		}
		time.Sleep(20 * time.Millisecond) // polling the sink's file, not an assertion
	}
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

func TestAlertsVerifiedAndResolved(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n"), "etc/motd": fimtest.File("hi\n"), "cache/tmp": fimtest.File("")}, "")
	h.start(t, Options{})
	passwd := filepath.Join(h.root, "etc", "passwd")

	// A write with the same content (touch: mtime, ctime) is a hint; the
	// re-hash says the content is the same: attributes_modified, not
	// updated. Writing into the excluded cache is no alert at all.
	if err := os.WriteFile(filepath.Join(h.root, "cache", "tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passwd, []byte("root:x:0:0\nevil:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := await(t, h.events, "updated "+passwd, has("updated", passwd))
	ev := find(evs, "updated", passwd)[0]
	// The test host is in the setup phase: a change is learning.
	if ev.Event.ID == "" || ev.Event.Severity != alerts.SeverityLearning || ev.Vigil == nil || ev.Vigil.Phase != "setup" {
		t.Errorf("updated event: id %q severity %d phase %v, want an id, severity %d, phase setup", ev.Event.ID, ev.Event.Severity, ev.Vigil, alerts.SeverityLearning)
	}
	for _, ev := range evs {
		if ev.File != nil && strings.Contains(ev.File.Path, "/cache") {
			t.Errorf("event %s for the excluded %s", ev.Event.Action, ev.File.Path)
		}
	}

	// The same state again (chmod back and forth ends where it was): no
	// second alert. A new state: a new alert.
	if err := os.Chmod(passwd, 0o600); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "a second alert on "+passwd, func(evs []alerts.Event) bool {
		return len(find(evs, "updated", passwd)) == 2
	})
}

// contentRule monitors content and mode only, so that a file can be put
// back in its baseline state (ctime cannot).
const contentRule = "[[rule]]\npaths = [\"/**\"]\nattributes = [\"content\", \"mode\", \"size\"]\n"

func TestResolvedWhenBackToBaseline(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/hosts": fimtest.File("127.0.0.1 localhost\n")}, contentRule)
	h.start(t, Options{})
	hosts := filepath.Join(h.root, "etc", "hosts")
	if err := os.WriteFile(hosts, []byte("6.6.6.6 bank.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := await(t, h.events, "updated "+hosts, has("updated", hosts))
	id := find(evs, "updated", hosts)[0].Event.ID
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "resolved "+hosts, has("resolved", hosts))
	// Once more: the same bad state coming back after the resolve is a new
	// finding: a second alert, with a new event.id (a consumer
	// deduplicating on it must not drop it).
	if err := os.WriteFile(hosts, []byte("6.6.6.6 bank.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs = await(t, h.events, "second updated", func(evs []alerts.Event) bool { return len(find(evs, "updated", hosts)) == 2 })
	if got := find(evs, "updated", hosts)[1].Event.ID; got == id {
		t.Errorf("event.id of the finding after its resolve = %q, the same as the first: want a new one", got)
	}
}

// TestRestartRemembersAlerts: a restart neither repeats a standing alert
// nor misses the resolve of a path fixed while the daemon was down.
func TestRestartRemembersAlerts(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/hosts": fimtest.File("127.0.0.1 localhost\n"), "etc/motd": fimtest.File("hi\n")}, contentRule)
	hosts, motd := filepath.Join(h.root, "etc", "hosts"), filepath.Join(h.root, "etc", "motd")
	for _, p := range []string{hosts, motd} {
		if err := os.WriteFile(p, []byte("6.6.6.6 bank.example\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.start(t, Options{}) // the start's whole check finds both
	await(t, h.events, "updated "+hosts+" and "+motd, func(evs []alerts.Event) bool {
		return has("updated", hosts)(evs) && has("updated", motd)(evs)
	})
	h.stop(t)
	if err := os.WriteFile(motd, []byte("hi\n"), 0o644); err != nil { // fixed while down
		t.Fatal(err)
	}
	h.start(t, Options{})
	await(t, h.events, "resolved "+motd+" after the restart", has("resolved", motd))
	evs := await(t, h.events, "the second start's notice", func(evs []alerts.Event) bool { return count(evs, "start") == 2 })
	if n := len(find(evs, "updated", hosts)); n != 1 {
		t.Errorf("%d updated events for %s across the restart, want 1 (the alert stands)", n, hosts)
	}
}

func TestNewDirectoriesAndMoves(t *testing.T) {
	h := newHost(t, fimtest.Tree{"srv/old/a": fimtest.File("a")}, "")
	h.start(t, Options{})
	// mkdir -p and a write straight away: never missed.
	deep := filepath.Join(h.root, "srv", "x", "y", "z")
	if err := os.MkdirAll(filepath.Dir(deep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deep, []byte("z"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "created "+deep, has("created", deep))
	// A renamed directory: its subtree is re-keyed and a write below the
	// new name is seen.
	oldDir, newDir := filepath.Join(h.root, "srv", "old"), filepath.Join(h.root, "srv", "new")
	if err := os.Rename(oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "moved "+newDir, func(evs []alerts.Event) bool {
		return len(find(evs, "moved", newDir)) > 0 || len(find(evs, "created", newDir)) > 0
	})
	b := filepath.Join(newDir, "b")
	if err := os.WriteFile(b, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "created "+b, has("created", b))
}

// TestContinuousWriteAlertedWithinBound: a file appended to every 50 ms
// never settles; it is verified after max_settle (2 s) all the same.
func TestContinuousWriteAlertedWithinBound(t *testing.T) {
	h := newHost(t, fimtest.Tree{"var/log/app.log": fimtest.File("")}, "")
	h.cfg.Watch.Settle = 0 // the default, 100 ms
	h.start(t, Options{})
	log := filepath.Join(h.root, "var", "log", "app.log")
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	began := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := f.WriteString("line\n"); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	await(t, h.events, "updated "+log+" while it is being written", has("updated", log))
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("first alert %v after the writes began, want within about 2 s (max_settle)", d)
	}
}

// TestDaemonSealAndPhase: with a key pinned, an unsigned baseline is not
// compared with (one critical event says so, no change alerts); sealed,
// changes are alerts of the hardened phase; a move to the setup phase is
// an event, and changes in it are learning.
func TestDaemonSealAndPhase(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hardened")
	keys := t.TempDir()
	skey, vkey, err := note.GenerateKey(nil, "daemon-test")
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(keys, "vigil.pub")
	os.WriteFile(pub, []byte(vkey+"\n"), 0o644)
	extra := fmt.Sprintf("[phase]\nhardened_markers = [%q]\n[trust]\npubkey = %q\n", marker, pub)
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n")}, extra)
	os.WriteFile(marker, nil, 0o644)
	h.start(t, Options{})
	passwd := filepath.Join(h.root, "etc", "passwd")
	// A marker but no seal recorded: the phase in force is setup, and the
	// marker's request is a critical finding of its own.
	await(t, h.events, "phase_marker_mismatch", func(evs []alerts.Event) bool { return len(actions(evs, "phase_marker_mismatch")) == 1 })
	os.WriteFile(passwd, []byte("evil\n"), 0o644)
	evs := await(t, h.events, "updated "+passwd, has("updated", passwd))
	if ev := find(evs, "updated", passwd)[0]; ev.Event.Severity != alerts.SeverityLearning || ev.Vigil.Phase != "setup" {
		t.Errorf("change before the seal: severity %d phase %q, want %d setup", ev.Event.Severity, ev.Vigil.Phase, alerts.SeverityLearning)
	}
	h.stop(t)

	// Seal (through the engine, as vigil seal does) and start again.
	signer, _ := note.NewSigner(skey)
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(passwd, []byte("root:x:0:0\n"), 0o644)
	if _, err := engine.Seal(context.Background(), db, engine.Options{Config: h.cfg, Host: "test", Phase: "hardened", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	h.start(t, Options{})
	os.WriteFile(passwd, []byte("evil again\n"), 0o644)
	evs = await(t, h.events, "updated "+passwd+" after the seal", func(evs []alerts.Event) bool { return len(find(evs, "updated", passwd)) == 2 })
	if ev := find(evs, "updated", passwd)[1]; ev.Event.Severity != alerts.SeverityAlert || ev.Vigil.Phase != "hardened" {
		t.Errorf("hardened change: severity %d phase %q, want %d hardened", ev.Event.Severity, ev.Vigil.Phase, alerts.SeverityAlert)
	}
	// The seal verified once is verified again after the database changed:
	// an edited baseline is not compared with.
	bdb, err := bolt.Open(h.db, 0o600, &bolt.Options{Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		bs := tx.Bucket([]byte("baselines"))
		k, v := bs.Cursor().Last()
		return bs.Put(k, bytes.Replace(v, []byte(`"host":"test"`), []byte(`"host":"evil"`), 1))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(passwd, []byte("evil twice\n"), 0o644)
	await(t, h.events, "baseline_unsealed after an edit", func(evs []alerts.Event) bool { return len(actions(evs, "baseline_unsealed")) == 1 })

	// The marker deleted: the hardened phase stays in force (the audit log
	// records it), and the marker's disagreement is critical.
	os.Remove(marker)
	os.WriteFile(passwd, []byte("evil a third time\n"), 0o644)
	evs = await(t, h.events, "phase_marker_mismatch again", func(evs []alerts.Event) bool { return len(actions(evs, "phase_marker_mismatch")) == 2 })
	if n := len(actions(evs, "phase_changed")); n != 0 {
		t.Errorf("deleting the marker changed the phase in force (%d phase_changed events)", n)
	}
	for _, ev := range actions(evs, "phase_marker_mismatch") {
		if ev.Event.Severity != alerts.SeverityCritical {
			t.Errorf("phase_marker_mismatch of severity %d, want critical", ev.Event.Severity)
		}
	}
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
