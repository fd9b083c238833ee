package store

import (
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
