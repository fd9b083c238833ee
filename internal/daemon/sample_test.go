package daemon

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
)

// TestWholeChecksKeepTheSample: the daemon's whole checks read the keyed
// sample with a state file of their own (engine.WatchSamplePath), and a
// state file written back is a critical sample_state_tampered event, once,
// settled by the next whole check; a check of a few paths keeps no state.
func TestWholeChecksKeepTheSample(t *testing.T) {
	t.Parallel()
	h := newHost(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b")}, "")
	v := &verifier{dbPath: h.db, host: "test", log: zerolog.Nop(), lockWait: wait,
		alerted: map[string]string{}, resolved: map[string]int{}, dirty: map[string]bool{}, stats: newStats()}
	state := engine.WatchSamplePath(h.db)
	run := func(j job) []alerts.Event {
		t.Helper()
		evs, err := v.run(t.Context(), h.cfg, j)
		if err != nil {
			t.Fatalf("verifier.run(%+v): %v", j, err)
		}
		return evs
	}

	if evs := run(job{events: []watch.Event{{Path: h.root + "/a", Op: watch.Changed}}}); len(evs) != 0 {
		t.Errorf("check of one path: events %s, want none", describe(evs))
	}
	if _, err := os.Lstat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a check of one path, Lstat(%s) = %v, want no state file", state, err)
	}
	if evs := run(job{whole: true, why: "scan"}); len(evs) != 0 {
		t.Errorf("first whole check: events %s, want none", describe(evs))
	}
	first, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("after a whole check: %v, want the sample state kept at %s", err, state)
	}
	run(job{whole: true, why: "scan"})
	if err := os.WriteFile(state, first, 0o600); err != nil {
		t.Fatal(err)
	}
	evs := run(job{whole: true, why: "scan"})
	got := actions(evs, "sample_state_tampered")
	if len(got) != 1 || got[0].Event.Severity != alerts.SeverityCritical || got[0].Error == nil ||
		!strings.Contains(got[0].Error.Message, state) || !strings.Contains(got[0].Error.Message, "replaced") {
		t.Errorf("whole check after the state was written back: events %s, want one critical sample_state_tampered naming %s", describe(evs), state)
	}
	if evs := run(job{whole: true, why: "scan"}); len(evs) != 0 {
		t.Errorf("whole check after that: events %s, want none (the state is sound again)", describe(evs))
	}
	if _, ok := v.alerted[sampleKey]; ok {
		t.Errorf("the sample state's finding still stands after a sound whole check")
	}
}
