package daemon

import (
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestTransientFields: in the hardened phase a transient event carries the
// state seen in between (file.*), the final one (vigil.previous), what
// differed (vigil.changed), and the severity of the same change: a setuid
// bit set and cleared is critical (T1548), a trojan swapped in and back
// an alert with both hashes.
func TestTransientFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree := fimtest.Tree{"usr/bin/su": fimtest.File("the real su").Mode(0o755)}
		h := hardenedHost(t, tree, func(string) string { return "" })
		h.startIdle(t, Options{})
		su := h.path("usr/bin/su")
		chmod := func(mode uint32) {
			t.Helper()
			if err := unix.Chmod(su, mode); err != nil {
				t.Fatal(err)
			}
			h.hint("usr/bin/su")
			synctest.Wait()
		}
		chmod(0o4755)
		chmod(0o755)
		h.settle(time.Second)
		evs := find(h.sink.events(), "transient", su)
		if len(evs) != 1 {
			t.Fatalf("transient events on %s after a setuid flip: %d, want 1:\n%s", su, len(evs), describe(h.sink.events()))
		}
		ev := evs[0]
		if ev.Event.Severity != alerts.SeverityCritical || ev.File.Mode != "4755" || ev.Vigil.Previous == nil ||
			ev.Vigil.Previous.Mode != "0755" || !slices.Contains(ev.Vigil.Changed, "mode") || ev.Threat == nil {
			t.Errorf("setuid flip: severity %d, mode %s, previous %+v, changed %q, threat %v; want critical, 4755 after 0755, mode changed, a technique",
				ev.Event.Severity, ev.File.Mode, ev.Vigil.Previous, ev.Vigil.Changed, ev.Threat)
		}

		write := func(text string) {
			t.Helper()
			if err := os.WriteFile(su, []byte(text), 0o755); err != nil {
				t.Fatal(err)
			}
			h.hint("usr/bin/su")
			synctest.Wait()
		}
		write("a trojan su") // the same size
		write("the real su")
		h.settle(time.Second)
		evs = find(h.sink.events(), "transient", su)
		if len(evs) != 2 {
			t.Fatalf("transient events on %s after a content swap: %d, want 2:\n%s", su, len(evs), describe(h.sink.events()))
		}
		ev = evs[1]
		if ev.Event.Severity != alerts.SeverityAlert || !slices.Contains(ev.Vigil.Changed, "content") || ev.File.Hash == nil ||
			ev.Vigil.Previous == nil || ev.Vigil.Previous.Hash == nil || ev.File.Hash.BLAKE3 == ev.Vigil.Previous.Hash.BLAKE3 ||
			!slices.Equal(ev.Event.Type, []string{"change"}) {
			t.Errorf("content swap: severity %d, changed %q, hash %+v, previous %+v, type %q; want an alert, content changed, two hashes",
				ev.Event.Severity, ev.Vigil.Changed, ev.File.Hash, ev.Vigil.Previous, ev.Event.Type)
		}
		if ev.Event.ID == "" || ev.Event.ID == evs[0].Event.ID {
			t.Errorf("transient event ids %q and %q: want two distinct ids", evs[0].Event.ID, ev.Event.ID)
		}
	})
}

// TestTransientInotify: with real inotify, a file created, made executable
// and deleted within 20 ms is an event (created and deleted), whatever the
// look at its hints could still read.
func TestTransientInotify(t *testing.T) {
	h := newHost(t, fimtest.Tree{"tmp/keep": fimtest.File("k")}, "").inotify()
	h.start(t, Options{})
	x := h.path("tmp/x")
	began := time.Now()
	if err := os.WriteFile(x, []byte("#!/bin/sh\necho pwned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(x); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 20*time.Millisecond {
		t.Logf("create, chmod and delete took %v (meant to be under 20 ms)", took) // not a failure: what follows holds either way
	}
	evs := h.sink.await(t, "a transient event on "+x, func(evs []alerts.Event) bool { return len(find(evs, "transient", x)) > 0 })
	ev := find(evs, "transient", x)[0]
	if !slices.Equal(ev.Event.Type, []string{"creation", "deletion"}) || ev.Event.Severity == 0 {
		t.Errorf("transient event on %s: type %q severity %d; want creation and deletion, a severity", x, ev.Event.Type, ev.Event.Severity)
	}
	h.stop(t)
}
