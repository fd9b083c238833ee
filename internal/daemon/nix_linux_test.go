package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/fimtest"
	"vigil/internal/nix"
)

// writeNixSnapshot verifies the store and writes its snapshot, as vigil
// nix snapshot does.
func writeNixSnapshot(t *testing.T, cfg *config.Config) {
	t.Helper()
	st := nix.Store{Root: cfg.Nix.RootDir()}
	r, err := nix.Verify(t.Context(), st, nix.Options{Full: true})
	if err != nil || len(r.Findings) != 0 {
		t.Fatalf("nix.Verify(fresh store) = %v, findings %v", err, r.Findings)
	}
	roots, err := st.SystemRoots()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.Snapshot(roots))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Nix.SnapshotPath(), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNixJobs: a real daemon over a real Nix store (built in a mount
// namespace) whose baseline records the store's snapshot, in the setup
// phase. A new system
// generation (the system profile's link moving) makes it check the store
// at once: the generation's paths are nix_closure_added (an alert,
// learning in the setup phase, naming the generation), and a byte changed in a store file before it is
// nix_content_changed (critical) naming the store path and the file. The
// file put back, the next timed Nix check (nix.interval) resolves that
// finding, and the closure finding stands.
func TestNixJobs(t *testing.T) {
	nh := fimtest.NewNixHost(t, 8)
	h := newHostAt(t, filepath.Join(nh.Dir, "etc"), fimtest.Tree{}, func(string) string {
		return fmt.Sprintf("[nix]\nroot = %q\nsnapshot = %q\ninterval = \"300ms\"\n", nh.Dir, filepath.Join(nh.Dir, "etc/vigil/nix-store.json"))
	})
	writeNixSnapshot(t, h.cfg)
	h.init(t)
	h.start(t, Options{})

	lib := filepath.Join(nh.Dir, nh.Paths[5], "lib/libx.so")
	orig, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{orig[0] ^ 1}, orig[1:]...)
	if err := os.WriteFile(lib, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	gen2 := nh.Generation(t, "dddddddddddddddddddddddddddddddd-nixos-system-2", nh.Paths[:3])

	evs := h.sink.await(t, "nix_content_changed and nix_closure_added", func(evs []alerts.Event) bool {
		return has("nix_content_changed", nh.Paths[5])(evs) && has("nix_closure_added", gen2)(evs)
	})
	cc := find(evs, "nix_content_changed", nh.Paths[5])[0]
	if cc.Event.Severity != alerts.SeverityCritical || cc.Error == nil || !strings.Contains(cc.Error.Message, "lib/libx.so") {
		t.Errorf("nix_content_changed: severity %d, %+v; want critical, naming lib/libx.so", cc.Event.Severity, cc.Error)
	}
	ca := find(evs, "nix_closure_added", gen2)[0]
	// An alert in the setup phase is learning, as every change's there.
	if ca.Event.Severity != alerts.SeverityLearning || ca.Vigil == nil || ca.Vigil.Phase != "setup" ||
		ca.Error == nil || !strings.Contains(ca.Error.Message, "generation 2") {
		t.Errorf("nix_closure_added %s: severity %d, %+v; want learning (an alert in the setup phase), naming generation 2",
			gen2, ca.Event.Severity, ca.Error)
	}
	if !has("nix_closure_added", nh.Paths[2])(evs) || has("nix_closure_added", nh.Paths[0])(evs) {
		t.Errorf("closure findings:\n%s\nwant %s (new in generation 2) and not %s (sealed)", describe(evs), nh.Paths[2], nh.Paths[0])
	}

	if err := os.WriteFile(lib, orig, 0o444); err != nil {
		t.Fatal(err)
	}
	key := nixPrefix + "nix_content_changed:" + nh.Paths[5]
	evs = h.sink.await(t, "the content finding resolved", has("resolved", key))
	if n := len(find(evs, "nix_closure_added", gen2)); n != 1 || has("resolved", nixPrefix+"nix_closure_added:"+gen2)(evs) {
		t.Errorf("after more Nix checks, nix_closure_added %s alerted %d times (or resolved):\n%s\nwant once, standing", gen2, n, describe(evs))
	}
	for _, ev := range actions(evs, "nix_content_changed") {
		if ev.File.Path != nh.Paths[5] {
			t.Errorf("nix_content_changed for %s, want only %s", ev.File.Path, nh.Paths[5])
		}
	}
}
