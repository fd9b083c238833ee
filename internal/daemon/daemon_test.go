package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// TestAlertsVerifiedAndResolved is the pipeline end to end on real
// inotify: a real write raises a kernel event, which is settled, verified
// and delivered; a write into the excluded cache is none.
func TestAlertsVerifiedAndResolved(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n"), "etc/motd": fimtest.File("hi\n"), "cache/tmp": fimtest.File("")}, "").inotify()
	h.start(t, Options{})
	passwd := h.path("etc/passwd")
	if err := os.WriteFile(h.path("cache/tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passwd, []byte("root:x:0:0\nevil:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := h.sink.await(t, "updated "+passwd, has("updated", passwd))
	ev := find(evs, "updated", passwd)[0]
	// The test host is in the setup phase: a change is learning.
	if ev.Event.ID == "" || ev.Event.Severity != alerts.SeverityLearning || ev.Vigil == nil || ev.Vigil.Phase != "setup" {
		t.Errorf("updated event: id %q severity %d phase %v, want an id, severity %d, phase setup", ev.Event.ID, ev.Event.Severity, ev.Vigil, alerts.SeverityLearning)
	}
	// A new state: a new alert.
	if err := os.Chmod(passwd, 0o600); err != nil {
		t.Fatal(err)
	}
	evs = h.sink.await(t, "a second alert on "+passwd, func(evs []alerts.Event) bool {
		return len(find(evs, "updated", passwd)) == 2
	})
	for _, ev := range evs {
		if ev.File != nil && strings.Contains(ev.File.Path, "/cache") {
			t.Errorf("event %s for the excluded %s", ev.Event.Action, ev.File.Path)
		}
	}
}

// TestSourceGetsRootsAndExclusions: the intake is made for the baseline's
// roots, with the configuration's exclusions and a fallback interval.
func TestSourceGetsRootsAndExclusions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"etc/a": fimtest.File("a")}, "")
		h.startIdle(t, Options{})
		h.stop(t)
		if len(h.src.opts) != 1 {
			t.Fatalf("the source was made %d times for one start, want 1", len(h.src.opts))
		}
		o := h.src.opts[0]
		if !slices.Equal(o.Roots, []string{h.root}) || o.Excluded == nil || !o.Excluded(h.path("cache")) || o.Excluded(h.path("etc")) || o.FallbackInterval <= 0 {
			t.Errorf("watch.Options = %+v; want roots [%s], %s excluded, etc not, a fallback interval", o, h.root, h.path("cache"))
		}
	})
}

// TestHintsBelowExcludedDropped: a source watching whole filesystems (as
// fanotify will) sends hints from inside an excluded directory too; they
// are no alerts (the exclude names the directory, not what is below it,
// and a check of such a path alone would report it created).
func TestHintsBelowExcludedDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"cache/deep/x": fimtest.File("x"), "etc/y": fimtest.File("y")}, "")
		h.startIdle(t, Options{})
		h.write(t, "cache/deep/x", "changed")
		h.write(t, "cache/deep/new", "new")
		h.src.send(watch.Event{Path: h.path("cache/deep"), Op: watch.Tree})
		h.write(t, "etc/y", "changed")
		h.settle(time.Second)
		var got []string
		for _, ev := range h.sink.events() {
			if ev.File != nil {
				got = append(got, ev.Event.Action+" "+ev.File.Path)
			}
		}
		if want := []string{"updated " + h.path("etc/y")}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		if n := h.stats.hints.Load(); n != 5 { // Ready and the four
			t.Errorf("hints counted %d, want 5", n)
		}
	})
}

// contentRule monitors content and mode only, so that a file can be put
// back in its baseline state (ctime cannot).
const contentRule = "[[rule]]\npaths = [\"/**\"]\nattributes = [\"content\", \"mode\", \"size\"]\n"

// TestResolvedWhenBackToBaseline: a path put back is resolved, and the
// same bad state coming back after the resolve is a new finding, with a
// new event.id (a consumer deduplicating on it must not drop it).
func TestResolvedWhenBackToBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"etc/hosts": fimtest.File("127.0.0.1 localhost\n")}, contentRule)
		h.startIdle(t, Options{})
		hosts := h.path("etc/hosts")
		h.write(t, "etc/hosts", "6.6.6.6 bank.example\n")
		h.settle(time.Second)
		h.write(t, "etc/hosts", "127.0.0.1 localhost\n")
		h.settle(time.Second)
		h.write(t, "etc/hosts", "6.6.6.6 bank.example\n")
		h.settle(time.Second)
		evs := h.sink.events()
		var got []string
		for _, ev := range evs {
			if ev.File != nil && ev.File.Path == hosts {
				got = append(got, ev.Event.Action)
			}
		}
		if want := []string{"updated", "resolved", "updated"}; !slices.Equal(got, want) {
			t.Fatalf("events on %s = %q, want %q:\n%s", hosts, got, want, describe(evs))
		}
		if u := find(evs, "updated", hosts); u[0].Event.ID == u[1].Event.ID {
			t.Errorf("event.id of the finding after its resolve = %q, the same as the first: want a new one", u[1].Event.ID)
		}
	})
}

// TestNewDirectoriesAndMoves, on real inotify: mkdir -p and a write
// straight away are never missed, and a renamed directory is watched
// under its new name.
func TestNewDirectoriesAndMoves(t *testing.T) {
	h := newHost(t, fimtest.Tree{"srv/old/a": fimtest.File("a")}, "").inotify()
	h.start(t, Options{})
	deep := h.path("srv/x/y/z")
	if err := os.MkdirAll(filepath.Dir(deep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deep, []byte("z"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "created "+deep, has("created", deep))
	oldDir, newDir := h.path("srv/old"), h.path("srv/new")
	if err := os.Rename(oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "moved "+newDir, func(evs []alerts.Event) bool {
		return len(find(evs, "moved", newDir)) > 0 || len(find(evs, "created", newDir)) > 0
	})
	b := filepath.Join(newDir, "b")
	if err := os.WriteFile(b, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "created "+b, has("created", b))
}

// TestContinuousWriteAlertedWithinBound: a file appended to every 50 ms
// never settles; it is verified after max_settle (2 s) all the same.
func TestContinuousWriteAlertedWithinBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"var/log/app.log": fimtest.File("")}, "")
		h.cfg.Watch.Settle = 0 // the default, 100 ms
		h.startIdle(t, Options{})
		log := h.path("var/log/app.log")
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		began := time.Now()
		var first time.Duration
		for time.Since(began) < 5*time.Second {
			if _, err := f.WriteString("line\n"); err != nil {
				t.Fatal(err)
			}
			h.hint("var/log/app.log")
			h.settle(50 * time.Millisecond)
			if first == 0 && has("updated", log)(h.sink.events()) {
				first = time.Since(began)
			}
		}
		if first == 0 || first > 2*time.Second+100*time.Millisecond {
			t.Errorf("first alert on %s %v after the writes began (0: none in 5 s), want by 2 s (max_settle) and a tick", log, first)
		}
		// Verified again at least once more within the next bound.
		if n := len(find(h.sink.events(), "updated", log)); n < 2 {
			t.Errorf("%d updated events on %s in 5 s of writes, want one every max_settle at least", n, log)
		}
	})
}

// TestDaemonSealAndPhase: a hardened marker with no seal recorded is a
// request, not the phase: the phase in force is setup (changes are
// learning) and the marker's disagreement is critical. Sealed, changes are
// alerts of the hardened phase; an edited baseline is not compared with;
// the marker deleted keeps the hardened phase in force and is critical
// again.
func TestDaemonSealAndPhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "hardened")
		keys := t.TempDir()
		skey, vkey, err := note.GenerateKey(nil, "daemon-test")
		if err != nil {
			t.Fatal(err)
		}
		pub := filepath.Join(keys, "vigil.pub")
		if err := os.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		extra := fmt.Sprintf("[phase]\nhardened_markers = [%q]\n[trust]\npubkey = %q\n", marker, pub)
		h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n")}, extra)
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h.startIdle(t, Options{})
		passwd := h.path("etc/passwd")
		if evs := h.sink.events(); count(evs, "phase_marker_mismatch") != 1 {
			t.Fatalf("after the start: %s want one phase_marker_mismatch", describe(evs))
		}
		h.write(t, "etc/passwd", "evil\n")
		h.settle(time.Second)
		evs := h.sink.events()
		if u := find(evs, "updated", passwd); len(u) != 1 || u[0].Event.Severity != alerts.SeverityLearning || u[0].Vigil.Phase != "setup" {
			t.Fatalf("change before the seal: %s want one updated %s, severity %d, phase setup", describe(evs), passwd, alerts.SeverityLearning)
		}
		h.stop(t)

		// Seal (through the engine, as vigil seal does) and start again.
		signer, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(passwd, []byte("root:x:0:0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(h.db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = engine.Seal(context.Background(), db, engine.Options{Config: h.cfg, Host: "test", Phase: "hardened", Signer: signer})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		h.startIdle(t, Options{})
		h.write(t, "etc/passwd", "evil again\n")
		h.settle(time.Second)
		evs = h.sink.events()
		if u := find(evs, "updated", passwd); len(u) != 2 || u[1].Event.Severity != alerts.SeverityAlert || u[1].Vigil.Phase != "hardened" {
			t.Fatalf("hardened change: %s want a second updated %s, severity %d, phase hardened", describe(evs), passwd, alerts.SeverityAlert)
		}
		// The seal verified once is verified again after the database
		// changed: an edited baseline is not compared with.
		bdb, err := bolt.Open(h.db, 0o600, &bolt.Options{Timeout: wait})
		if err != nil {
			t.Fatal(err)
		}
		err = bdb.Update(func(tx *bolt.Tx) error {
			bs := tx.Bucket([]byte("baselines"))
			k, v := bs.Cursor().Last()
			return bs.Put(k, bytes.Replace(v, []byte(`"host":"test"`), []byte(`"host":"evil"`), 1))
		})
		if cerr := bdb.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		hints, checks := h.stats.hints.Load(), h.stats.verifications.Load()
		h.write(t, "etc/passwd", "evil twice\n")
		h.settle(time.Second)
		// The hint was taken and settled long ago (the bubble's clock ran
		// 20 settle windows), and no check compared it.
		if n := h.stats.hints.Load(); n != hints+1 {
			t.Fatalf("hints %d -> %d, want the one write's", hints, n)
		}
		if n := h.stats.verifications.Load(); n != checks {
			t.Errorf("checks run %d -> %d: an edited baseline was compared with", checks, n)
		}
		if evs := h.sink.events(); count(evs, "baseline_unsealed") != 1 || len(find(evs, "updated", passwd)) != 2 {
			t.Fatalf("after the baseline was edited: %s want one baseline_unsealed and no new updated", describe(evs))
		}

		// The marker deleted: the hardened phase stays in force (the audit
		// log records it), and the marker's disagreement is critical.
		if err := os.Remove(marker); err != nil {
			t.Fatal(err)
		}
		h.write(t, "etc/passwd", "evil a third time\n")
		h.settle(time.Second)
		evs = h.sink.events()
		if count(evs, "phase_marker_mismatch") != 2 || count(evs, "phase_changed") != 0 {
			t.Errorf("after the marker was removed: %s want a second phase_marker_mismatch and no phase_changed", describe(evs))
		}
		for _, ev := range actions(evs, "phase_marker_mismatch") {
			if ev.Event.Severity != alerts.SeverityCritical {
				t.Errorf("phase_marker_mismatch of severity %d, want critical", ev.Event.Severity)
			}
		}
	})
}
