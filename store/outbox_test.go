package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestOutboxQueuesPerSinkAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	o, err := OpenOutbox(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1000, 0)
	for i := range 5 {
		if err := o.Append([]OutboxEntry{{Sinks: []string{"a", "b"}, Data: []byte(fmt.Sprint(i))}}, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	seqs, data, err := o.Pending("a", 10)
	if err != nil || len(seqs) != 3 || string(data[0]) != "0" || string(data[2]) != "2" {
		t.Fatalf("Pending(a) = %v %q %v, want the first 3 (the queue holds 3)", seqs, data, err)
	}
	n, first, last, err := o.Dropped("a")
	if err != nil || n != 2 || !first.Equal(at.Add(3*time.Second)) || !last.Equal(at.Add(4*time.Second)) {
		t.Errorf("Dropped(a) = %d %v %v %v, want 2 from +3s to +4s", n, first, last, err)
	}
	if err := o.Remove("a", seqs[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := o.ForgetDropped("a", 2); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o, err = OpenOutbox(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := OpenOutbox(path, 3); !errors.Is(err, ErrLocked) {
		t.Errorf("second OpenOutbox: %v, want ErrLocked (one daemon owns the outbox)", err)
	}
	if d, err := o.Depth("a"); d != 1 || err != nil {
		t.Errorf("Depth(a) after reopen = %d %v, want 1", d, err)
	}
	if d, err := o.Depth("b"); d != 3 || err != nil {
		t.Errorf("Depth(b) = %d %v, want 3: sinks have queues of their own", d, err)
	}
	if n, _, _, _ := o.Dropped("a"); n != 0 {
		t.Errorf("Dropped(a) after ForgetDropped = %d, want 0", n)
	}
	_, data, _ = o.Pending("a", 10)
	if len(data) != 1 || string(data[0]) != "2" {
		t.Errorf("Pending(a) after reopen = %q, want [2]", data)
	}
}

func TestOutboxRemembersAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db.outbox")
	o, err := OpenOutbox(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.SaveAlertsAndStanding(map[string]AlertState{"/etc/a": {State: "s1"}, "/etc/b": {State: "s2", Resolved: 3}, "\x00baseline": {State: "t"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.SaveAlertsAndStanding(map[string]AlertState{"/etc/a": {}}, nil); err != nil { // resolved, never before: forgotten
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o, err = OpenOutbox(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := o.Alerts()
	want := map[string]AlertState{"/etc/b": {State: "s2", Resolved: 3}, "\x00baseline": {State: "t"}}
	if err != nil || len(got) != len(want) || got["/etc/b"] != want["/etc/b"] || got["\x00baseline"] != want["\x00baseline"] {
		t.Errorf("Alerts() after reopen = %v, %v; want %v", got, err, want)
	}
}
