package alerts

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// attributed returns a change event with who made it, as the watch sets it.
func attributed(pid int) Event {
	ev := Resolved("/etc/passwd", host, now)
	ev.Event.Action = "modified"
	ev.Process = &Process{PID: pid, Name: "sh", Executable: "/usr/bin/dash", CommandLine: "sh -c echo x",
		Args: []string{"sh", "-c", "echo x"}, Parent: &ProcessParent{PID: 1}}
	ev.User = &User{ID: "0", Name: "root"}
	return ev
}

func TestProcessFieldsECS(t *testing.T) {
	ev := attributed(4242)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process map[string]any `json:"process"`
		User    map[string]any `json:"user"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"pid": 4242.0, "name": "sh", "executable": "/usr/bin/dash", "command_line": "sh -c echo x",
		"args": []any{"sh", "-c", "echo x"}, "parent": map[string]any{"pid": 1.0}}
	if diff := cmp.Diff(want, got.Process); diff != "" {
		t.Errorf("process of %s (-want +got):\n%s", b, diff)
	}
	if diff := cmp.Diff(map[string]any{"id": "0", "name": "root"}, got.User); diff != "" {
		t.Errorf("user of %s (-want +got):\n%s", b, diff)
	}
}

func TestByAndState(t *testing.T) {
	a, b := attributed(4242), attributed(77)
	if got, want := a.By(), "by 4242 (/usr/bin/dash) uid 0 (root)"; got != want {
		t.Errorf("By() = %q, want %q", got, want)
	}
	if r := Resolved("/x", host, now); r.By() != "" {
		got := r.By()
		t.Errorf("By() of an event without a process = %q, want empty", got)
	}
	// The same change made by another process is the same finding.
	if a.State() != b.State() {
		t.Errorf("State() differs between the same change by pid 4242 and pid 77; want equal")
	}
	plain := attributed(0)
	plain.Process, plain.User = nil, nil
	if a.State() != plain.State() {
		t.Errorf("State() of an attributed change differs from the unattributed one; want equal")
	}
	// A remediation's command (no pid) still counts.
	r := Resolved("/x", host, now)
	r2 := r
	r2.Process = &Process{Executable: "/bin/true"}
	if r.State() == r2.State() {
		t.Errorf("State() ignores a remediation's process; want it counted")
	}
	msg := string(FormatSyslog(&a, []byte("{}"), 10, 1))
	if !strings.Contains(msg, `by="by 4242 (/usr/bin/dash) uid 0 (root)"`) {
		t.Errorf("FormatSyslog = %q, want a by parameter", msg)
	}
}
