package store

import (
	"fmt"
	"maps"
	"path/filepath"
	"testing"
)

// TestSaveAlertsAndStanding: the states and the standing alerts written
// together are read back after a reopen, and nil and zero values delete.
func TestSaveAlertsAndStanding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	o, err := OpenOutbox(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.SaveAlertsAndStanding(map[string]AlertState{"/etc/a": {State: "s1"}, "/etc/b": {State: "s2", Resolved: 1}},
		map[string][]byte{"/etc/a": []byte(`{"a":1}`), "/etc/b": []byte(`{"b":2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := o.SaveAlertsAndStanding(map[string]AlertState{"/etc/a": {}}, map[string][]byte{"/etc/a": nil}); err != nil {
		t.Fatal(err)
	}
	if err := o.SaveAlertsAndStanding(nil, map[string][]byte{"/etc/c": []byte(`{"c":3}`)}); err != nil { // standing only
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = OpenOutbox(path, 0); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	states, err := o.Alerts()
	if want := map[string]AlertState{"/etc/b": {State: "s2", Resolved: 1}}; err != nil || !maps.Equal(states, want) {
		t.Errorf("Alerts() = %v, %v; want %v", states, err, want)
	}
	standing, err := o.Standing()
	if err != nil || len(standing) != 2 || string(standing["/etc/b"]) != `{"b":2}` || string(standing["/etc/c"]) != `{"c":3}` {
		t.Errorf("Standing() = %q, %v; want /etc/b and /etc/c", standing, err)
	}
}

// BenchmarkSaveAlertsAndStanding saves what one batch of a burst of
// creations saves: 2,048 new paths in one directory, each an alerted
// state and a standing alert of about an alert's size.
func BenchmarkSaveAlertsAndStanding(b *testing.B) {
	o, err := OpenOutbox(filepath.Join(b.TempDir(), "outbox"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	data := make([]byte, 900)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		states, standing := map[string]AlertState{}, map[string][]byte{}
		for j := range 2048 {
			p := fmt.Sprintf("/srv/burst/r%d/f%d", i, j)
			states[p] = AlertState{State: "0123456789abcdef0123456789abcdef"}
			standing[p] = data
		}
		if err := o.SaveAlertsAndStanding(states, standing); err != nil {
			b.Fatal(err)
		}
	}
}
