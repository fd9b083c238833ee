package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/internal/fimtest"
)

// actions returns "action path" for each change event of a check --json.
func actions(t *testing.T, stdout string) []string {
	t.Helper()
	evs, _ := decodeEvents(t, stdout)
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+" "+filepath.Base(e.Path))
	}
	slices.Sort(out)
	return out
}

// TestUpdateEntry: update --entry DIR accepts DIR's own change and none of
// the changes below it, which the next check still reports.
func TestUpdateEntry(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"d/f": fimtest.File("f"), "d/g": fimtest.File("g")})
	mustRun(t, 0, s.args("init")...)
	must(t, os.Chmod(s.path("d"), 0o700))
	must(t, os.WriteFile(s.path("d/f"), []byte("changed"), 0o644))
	must(t, os.WriteFile(s.path("d/new"), []byte("n"), 0o644))
	mustRun(t, 0, s.args("update", "--entry", s.path("d"), "--reason", "ticket 42")...)
	got := actions(t, vigil(t, s.args("check", "--json")...).stdout)
	if want := []string{"created new", "updated f"}; !slices.Equal(got, want) {
		t.Errorf("after update --entry d, check reported %q, want %q (d's mode accepted, nothing below it)", got, want)
	}
	mustRun(t, exitUsage, s.args("update", "--entry")...)
}

// TestUpdateFromReport: update --from REPORT accepts exactly the changes a
// saved check --json lists (a move included) and leaves a later one pending;
// a report made against another baseline is refused.
func TestUpdateFromReport(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b"), "old": fimtest.File("o"), "m": fimtest.File("moved")})
	mustRun(t, 0, s.args("init")...)
	must(t, os.WriteFile(s.path("a"), []byte("a2"), 0o644))
	must(t, os.WriteFile(s.path("new"), []byte("n"), 0o644))
	must(t, os.Remove(s.path("old")))
	must(t, os.Rename(s.path("m"), s.path("m2")))
	report := filepath.Join(t.TempDir(), "report.json")
	must(t, os.WriteFile(report, []byte(vigil(t, s.args("check", "--json")...).stdout), 0o600))
	must(t, os.WriteFile(s.path("b"), []byte("unreviewed"), 0o644))

	out := mustRun(t, 0, "--config", s.config, "update", "--from", report, "--reason", "reviewed in CHG-1")
	if !strings.Contains(out.stderr, "reason=") || !strings.Contains(out.stderr, "pending=1") {
		t.Errorf("update --from logged %q, want the reason and 1 change left pending", out.stderr)
	}
	got := actions(t, vigil(t, s.args("check", "--json")...).stdout)
	if want := []string{"updated b"}; !slices.Equal(got, want) {
		t.Errorf("after update --from, check reported %q, want %q (only the unreviewed change)", got, want)
	}
	// The baseline moved on: the old report no longer applies.
	mustRun(t, exitUsage, s.args("update", "--from", report)...)
	mustRun(t, exitUsage, s.args("update", "--from", s.config)...) // not a report
}

// TestUpdateFromStaleReport: a listed entry that changed again after the
// review makes update --from refuse, writing nothing.
func TestUpdateFromStaleReport(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b")})
	mustRun(t, 0, s.args("init")...)
	must(t, os.WriteFile(s.path("a"), []byte("a2"), 0o644))
	must(t, os.WriteFile(s.path("b"), []byte("b2"), 0o644))
	report := filepath.Join(t.TempDir(), "report.json")
	must(t, os.WriteFile(report, []byte(vigil(t, s.args("check", "--json")...).stdout), 0o600))
	must(t, os.WriteFile(s.path("a"), []byte("a3"), 0o644))
	out := mustRun(t, exitUsage, s.args("update", "--from", report)...)
	if !strings.Contains(out.stderr, "changed since") || !strings.Contains(out.stderr, s.path("a")) {
		t.Errorf("update --from a stale report said %q, want it refused naming %s", out.stderr, s.path("a"))
	}
	if got := actions(t, vigil(t, s.args("check", "--json")...).stdout); len(got) != 2 {
		t.Errorf("after a refused update --from, check reported %q, want both changes pending", got)
	}
}
