package daemon

import (
	"fmt"
	"testing"
	"time"

	"vigil/merkle"
)

// TestFindingsWaitForTheCheck: what a check finds is recorded as alerted
// (and becomes events) only once the check has succeeded, in the order
// found; a check that fails records nothing, so that its retry alerts
// again.
func TestFindingsWaitForTheCheck(t *testing.T) {
	for _, n := range []int{3, 300} {
		v := &verifier{alerted: map[string]string{}, dirty: map[string]bool{}, resolved: map[string]int{}, host: "h"}
		newCollect := func() *collect {
			return &collect{v: v, scope: "1:ab", seen: map[string]bool{}, changes: map[string]merkle.Action{}, restored: map[string]bool{}, now: time.Unix(1e9, 0), phase: "hardened"}
		}
		report := func(c *collect) {
			for i := range n {
				p := fmt.Sprintf("/srv/f%04d", i)
				entry := merkle.Entry{Path: p, Type: merkle.TypeFile, Size: int64(i)}
				if err := c.change(merkle.Change{Path: p, Action: merkle.Created, New: &entry}); err != nil {
					t.Fatal(err)
				}
				entry.Size = -1 // the check reusing what it reported: not what is alerted on
			}
		}
		c := newCollect()
		report(c)
		if len(v.alerted) != 0 || len(c.out) != 0 {
			t.Fatalf("%d findings: %d alerted and %d events before the check ended", n, len(v.alerted), len(c.out))
		}
		c.dropFound() // the check failed
		if len(v.alerted) != 0 || len(v.dirty) != 0 || len(c.out) != 0 {
			t.Fatalf("%d findings of a failed check: %d alerted, %d to save, %d events; want none", n, len(v.alerted), len(v.dirty), len(c.out))
		}
		c = newCollect()
		report(c) // the retry
		c.addFound()
		if len(c.out) != n || len(v.alerted) != n {
			t.Fatalf("%d findings: %d events, %d alerted after the check; want all", n, len(c.out), len(v.alerted))
		}
		for i, ev := range c.out {
			if want := fmt.Sprintf("/srv/f%04d", i); ev.File.Path != want || ev.File.Size == nil || *ev.File.Size != int64(i) || ev.Event.ID == "" {
				t.Fatalf("event %d: %s, size %v, id %q; want %s, size %d, with an id", i, ev.File.Path, ev.File.Size, ev.Event.ID, want, i)
			}
		}
	}
}
