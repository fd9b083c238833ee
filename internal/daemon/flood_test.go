package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/alerts"
	"vigil/internal/config"
)

func fileEvent(action, path, typ string, severity int, changed ...string) alerts.Event {
	ev := alerts.Notice(action, "", "test", time.Unix(0, 0))
	ev.Event.Kind, ev.Event.Severity = "alert", severity
	ev.File = &alerts.File{Path: path, Type: typ}
	ev.Vigil = &alerts.Vigil{Changed: changed}
	return ev
}

func testFlood(t *testing.T, rules string) *flood {
	t.Helper()
	text := "database = \"/v.db\"\nroots = [\"/r\"]\n[watch]\nflood_limit = 3\nflood_dir_limit = 5\nflood_window = \"1m\"\n" + rules
	c, err := config.Parse("/v.toml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	m, err := c.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	return newFlood(c, m, "test")
}

func paths(evs []alerts.Event) []string {
	var out []string
	for _, ev := range evs {
		p := ""
		if ev.File != nil {
			p = ev.File.Path
		}
		out = append(out, ev.Event.Action+" "+p)
	}
	return out
}

// TestFloodLimits: alerts over a path's limit, and churn (created) over a
// directory's, are coalesced into one summary per directory and window
// naming the paths (bounded) and their distinct actions; changes of many
// recorded paths in one directory, critical alerts and events without a
// path pass; a directory's own mtime/ctime passes once per window; a
// rule's flood_limit replaces the limits.
func TestFloodLimits(t *testing.T) {
	f := testFlood(t, "[[rule]]\npaths = [\"/r/keep/**\"]\nignore = []\nflood_limit = 1000\n")
	t0 := time.Unix(1000, 0)
	var in []alerts.Event
	for range 5 {
		in = append(in, fileEvent("updated", "/r/etc/hot", "file", alerts.SeverityAlert))
	}
	in = append(in, fileEvent("updated", "/r/etc/crit", "file", alerts.SeverityCritical))
	for i := range 8 {
		in = append(in, fileEvent("updated", "/r/etc", "dir", alerts.SeverityAlert, "mtime", "ctime"))
		in = append(in, fileEvent("created", fmt.Sprintf("/r/etc/n%d", i), "file", alerts.SeverityAlert))
	}
	in = append(in, alerts.Notice("catch_up", "", "test", t0))
	for i := range 10 {
		in = append(in, fileEvent("created", fmt.Sprintf("/r/keep/k%d", i), "file", alerts.SeverityAlert))
	}
	for i := range 20 {
		in = append(in, fileEvent("updated", fmt.Sprintf("/r/usr/u%02d", i), "file", alerts.SeverityAlert))
	}
	got := paths(f.filter(in, t0))
	want := []string{
		"updated /r/etc/hot", "updated /r/etc/hot", "updated /r/etc/hot", // the path's limit: 3
		"updated /r/etc/crit", // critical: never coalesced
		"updated /r/etc",      // the directory's own times: once
		"created /r/etc/n0", "created /r/etc/n1", "created /r/etc/n2", "created /r/etc/n3", "created /r/etc/n4",
		"catch_up ", // /r/etc/n5 on: over the directory's limit of churn, 5
	}
	for i := range 10 {
		want = append(want, fmt.Sprintf("created /r/keep/k%d", i)) // the rule's limit
	}
	for i := range 20 {
		want = append(want, fmt.Sprintf("updated /r/usr/u%02d", i)) // recorded paths: per path only
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("filter (-want +got):\n%s", diff)
	}
	if s := f.flush(t0.Add(59*time.Second), false); len(s) != 0 {
		t.Errorf("flush within the window = %v, want nothing", paths(s))
	}
	sums := f.flush(t0.Add(time.Minute), false)
	if len(sums) != 1 {
		t.Fatalf("flush at the window's end = %v, want one summary, for /r/etc", paths(sums))
	}
	etc := sums[0].Vigil.Coalesced
	wantEtc := &alerts.CoalescedInfo{
		Directory: "/r/etc", Count: 12, Actions: map[string]int{"updated": 9, "created": 3},
		Paths: []alerts.CoalescedPath{
			{Path: "/r/etc/hot", Actions: []string{"updated"}}, {Path: "/r/etc", Actions: []string{"updated"}},
			{Path: "/r/etc/n5", Actions: []string{"created"}}, {Path: "/r/etc/n6", Actions: []string{"created"}}, {Path: "/r/etc/n7", Actions: []string{"created"}},
		},
		First: t0.UTC(), Last: t0.UTC(),
	}
	if diff := cmp.Diff(wantEtc, etc); diff != "" || sums[0].Event.Action != "events_coalesced" || sums[0].Event.Severity != alerts.SeverityAlert {
		t.Errorf("summary of /r/etc (%s, severity %d) (-want +got):\n%s", sums[0].Event.Action, sums[0].Event.Severity, diff)
	}
	if f.total.Load() != 12 {
		t.Errorf("coalesced total = %d, want 12", f.total.Load())
	}
	// A new window starts afresh.
	if got := f.filter([]alerts.Event{fileEvent("updated", "/r/etc/hot", "file", alerts.SeverityAlert)}, t0.Add(time.Minute)); len(got) != 1 {
		t.Errorf("the next window's first alert on /r/etc/hot: %v, want it passed", paths(got))
	}
}

// TestFloodBoundsPaths: temporary files created and gone again in one
// directory: a summary names at most coalescedPaths paths, counts the
// others, and records each path's distinct actions.
func TestFloodBoundsPaths(t *testing.T) {
	f := testFlood(t, "")
	t0 := time.Unix(1000, 0)
	var in []alerts.Event
	for i := range 100 {
		p := fmt.Sprintf("/r/tmp/f%03d", i)
		in = append(in, fileEvent("created", p, "file", alerts.SeverityAlert), fileEvent("resolved", p, "file", alerts.SeverityInfo))
	}
	if got := f.filter(in, t0); len(got) != 5 {
		t.Fatalf("passed %d of 200, want the directory's limit, 5", len(got))
	}
	sums := f.flush(t0, true)
	if len(sums) != 1 {
		t.Fatalf("forced flush = %v, want one summary", paths(sums))
	}
	c := sums[0].Vigil.Coalesced
	if c.Count != 195 || len(c.Paths) != coalescedPaths || c.PathsOmitted != 98-coalescedPaths || c.Actions["created"] != 97 || c.Actions["resolved"] != 98 {
		t.Errorf("summary = count %d, %d paths, %d omitted, actions %v; want 195, %d, %d, created 97 resolved 98",
			c.Count, len(c.Paths), c.PathsOmitted, c.Actions, coalescedPaths, 98-coalescedPaths)
	}
	if p := c.Paths[len(c.Paths)-1]; !cmp.Equal(p.Actions, []string{"created", "resolved"}) {
		t.Errorf("path %s actions %v, want created and resolved", p.Path, p.Actions)
	}
}

// TestFloodTransients: temp files that come and go before they are
// verified are transients, the churn of their directory like created and
// resolved: beyond the limit they are coalesced, but a critical one
// (hardened: a setuid flip) never is.
func TestFloodTransients(t *testing.T) {
	f := testFlood(t, "")
	t0 := time.Unix(1000, 0)
	var in []alerts.Event
	for i := range 50 {
		in = append(in, fileEvent("transient", fmt.Sprintf("/r/tmp/t%03d", i), "file", alerts.SeverityAlert))
	}
	in = append(in, fileEvent("transient", "/r/tmp/su", "file", alerts.SeverityCritical))
	got := f.filter(in, t0)
	if len(got) != 6 || got[5].File.Path != "/r/tmp/su" {
		t.Fatalf("passed %v, want the directory's limit (5) and the critical one", paths(got))
	}
	if sums := f.flush(t0, true); len(sums) != 1 || sums[0].Vigil.Coalesced.Count != 45 {
		t.Errorf("summary of the transients: %v", paths(sums))
	}
}
