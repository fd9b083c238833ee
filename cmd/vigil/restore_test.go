package main

import (
	"encoding/json"
	"strings"
	"testing"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestRestoreCommand: without a snapshot recorded with the baseline (not
// on Btrfs) a restore is refused with exit 4 and a restore_refused event,
// changing nothing; no PATH is a usage error. The restore itself is tested
// on a loop-mounted Btrfs in internal/engine and btrfs.
func TestRestoreCommand(t *testing.T) {
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	mustRun(t, exitUsage, s.args("restore")...)
	out := mustRun(t, exitChanged, s.args("restore", "--json", s.path("f"))...)
	var ev alerts.Event
	if err := json.Unmarshal([]byte(out.stdout), &ev); err != nil {
		t.Fatalf("restore --json printed %q: %v", out.stdout, err)
	}
	if ev.Event.Action != "restore_refused" || ev.File == nil || ev.File.Path != s.path("f") ||
		ev.Error == nil || !strings.Contains(ev.Error.Message, "no recorded snapshot") {
		t.Errorf("restore --json event = %+v, want restore_refused of %s for want of a snapshot", ev, s.path("f"))
	}
	out = mustRun(t, exitChanged, s.args("restore", "--dry-run", s.path("f"))...)
	if !strings.HasPrefix(out.stdout, "restore_refused ") {
		t.Errorf("restore --dry-run printed %q", out.stdout)
	}
	// check on a tree not on Btrfs reports no device.
	mustRun(t, 0, s.args("check")...)
}
