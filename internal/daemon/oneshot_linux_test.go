package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestOneShotProcessAttributed: a process that writes and exits at once.
// What is certain: its pid, always; and, while it is not reaped (a zombie
// whose parent has not waited yet), its user and parent too, from the
// kernel through the event's pidfd (its executable is gone at exit). One
// reaped at once (sh -c by a parent that waits) is often gone before its
// event is read: how often each field was there is logged, not asserted.
func TestOneShotProcessAttributed(t *testing.T) {
	h := fanotifyHost(t, fimtest.Tree{"etc/motd": fimtest.File("0\n")})
	h.cfg.Watch.FloodLimit = 1 << 30 // every alert of the one path
	h.start(t, Options{})
	motd := h.path("etc/motd")
	updated := func(n int) func([]alerts.Event) bool {
		return func(evs []alerts.Event) bool { return len(find(evs, "updated", motd)) >= n }
	}

	// Not reaped until its alert is in.
	cmd := exec.Command("sh", "-c", "echo zombie > "+motd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ev := find(h.sink.await(t, "updated "+motd, updated(1)), "updated", motd)[0]
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if p := ev.Process; p == nil || p.PID != cmd.Process.Pid || p.Parent == nil || p.Parent.PID != os.Getpid() {
		t.Errorf("one-shot process not yet reaped: process %+v, want pid %d, parent %d", p, cmd.Process.Pid, os.Getpid())
	}
	if ev.User == nil || ev.User.ID != strconv.Itoa(os.Geteuid()) {
		t.Errorf("one-shot process not yet reaped: user %+v, want id %d", ev.User, os.Geteuid())
	}

	// Reaped at once.
	const n = 40
	var withUser, withExe int
	for i := range n {
		cmd := exec.Command("sh", "-c", fmt.Sprintf("echo %d > %s", i+1, motd))
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		u := find(h.sink.await(t, fmt.Sprintf("updated %s (%d)", motd, i+2), updated(i+2)), "updated", motd)
		ev := u[len(u)-1]
		if ev.Process == nil || ev.Process.PID != cmd.Process.Pid {
			t.Fatalf("one-shot process %d (reaped at once): process %+v, want pid %d", i, ev.Process, cmd.Process.Pid)
		}
		if ev.User != nil && ev.User.ID != "" {
			withUser++
		}
		if ev.Process.Executable != "" {
			withExe++
		}
	}
	t.Logf("%d one-shot writers reaped at once: user in %d alerts, executable in %d, pid in all", n, withUser, withExe)
}
