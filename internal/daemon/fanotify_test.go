package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
)

// fanotifyHost is a host whose tree is on a loop-mounted ext4 of its own
// (no other process's changes reach the mark), watched by real fanotify.
func fanotifyHost(t *testing.T, tree fimtest.Tree) *host {
	t.Helper()
	fimtest.NeedRoot(t, "fanotify needs CAP_SYS_ADMIN")
	root := filepath.Join(fimtest.LoopFS(t, "ext4", 64<<20, ""), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHostAt(t, root, tree, func(string) string { return "" })
	h.init(t)
	return h.fanotify()
}

// TestFanotifyAttributesTheChange: a change by a child process is alerted
// with that process (pid, executable, command line, parent, user) in the
// ECS fields; the daemon's own writes (the test's: one process) are no
// hints; /status says which intake runs.
func TestFanotifyAttributesTheChange(t *testing.T) {
	h := fanotifyHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n"), "etc/own": fimtest.File("x")})
	h.cfg.Watch.Listen = "127.0.0.1:0"
	addr := make(chan string, 1)
	h.start(t, Options{onListen: func(a string) { addr <- a }})
	base := "http://" + <-addr

	// The daemon's own process writes: no hint, so no alert until a check.
	own := h.path("etc/own")
	if err := os.WriteFile(own, []byte("changed by vigil's pid"), 0o644); err != nil {
		t.Fatal(err)
	}
	passwd := h.path("etc/passwd")
	script := "echo evil:x:0:0 >> " + passwd + "; read _"
	cmd := exec.Command("sh", "-c", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	exe, err := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	evs := h.sink.await(t, "updated "+passwd, has("updated", passwd))
	io.WriteString(stdin, "\n")
	ev := find(evs, "updated", passwd)[0]
	p := ev.Process
	if p == nil || p.PID != cmd.Process.Pid || p.Executable != exe || p.CommandLine != "sh -c "+script ||
		p.Parent == nil || p.Parent.PID != os.Getpid() || p.Name == "" {
		t.Errorf("updated %s: process = %+v, want pid %d, executable %s, command line sh -c ..., parent %d", passwd, p, cmd.Process.Pid, exe, os.Getpid())
	}
	if ev.User == nil || ev.User.ID != "0" || ev.User.Name != "root" {
		t.Errorf("updated %s: user = %+v, want id 0 (root)", passwd, ev.User)
	}
	if got := ev.By(); got == "" {
		t.Errorf("By() of the updated event is empty, want the process")
	}
	if n := len(find(evs, "updated", own)); n != 0 {
		t.Errorf("%d alerts on %s, written by the daemon's own process; want none", n, own)
	}

	code, body := get(t, base+"/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status = %d %v:\n%s", code, err, body)
	}
	if st.Coverage.Intake != "fanotify" || len(st.Coverage.Filesystems) != 1 || len(st.Coverage.Inotify) != 0 {
		t.Errorf("/status coverage = %+v, want fanotify marking one filesystem", st.Coverage)
	}
	if ns := h.notifications(); !slices.ContainsFunc(ns, func(n string) bool { return strings.HasPrefix(n, "STATUS=watching 1 filesystems (fanotify)") }) {
		t.Errorf("notifications %q: no STATUS= naming fanotify", ns)
	}
}

// TestProcessCarriedToAlert: the process a hint names (as fanotify's do)
// reaches the alert of that path, through settling and verification; a
// second change to the same state by another process is no new alert; a
// path no hint named a process for has none.
func TestProcessCarriedToAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"etc/hosts": fimtest.File("a\n"), "etc/motd": fimtest.File("hi\n")}, "")
		h.startIdle(t, Options{})
		hosts, motd := h.path("etc/hosts"), h.path("etc/motd")
		by := &watch.Process{PID: 4242, PPID: 1, Executable: "/usr/bin/dash", Name: "sh", Args: []string{"sh", "-c", "echo"}, UID: "1000", User: "mallory"}
		if err := os.WriteFile(hosts, []byte("6.6.6.6 bank\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.src.send(watch.Event{Path: hosts, Op: watch.Changed, Process: by})
		h.write(t, "etc/motd", "pwned\n")
		h.settle(time.Second)
		evs := h.sink.events()
		u := find(evs, "updated", hosts)
		if len(u) != 1 {
			t.Fatalf("updated events on %s: %d, want 1:\n%s", hosts, len(u), describe(evs))
		}
		want := &alerts.Process{PID: 4242, Name: "sh", Executable: "/usr/bin/dash", CommandLine: "sh -c echo", Args: []string{"sh", "-c", "echo"},
			Parent: &alerts.ProcessParent{PID: 1}}
		if diff := cmp.Diff(want, u[0].Process); diff != "" {
			t.Errorf("process of the alert on %s (-want +got):\n%s", hosts, diff)
		}
		if diff := cmp.Diff(&alerts.User{ID: "1000", Name: "mallory"}, u[0].User); diff != "" {
			t.Errorf("user of the alert on %s (-want +got):\n%s", hosts, diff)
		}
		if m := find(evs, "updated", motd); len(m) != 1 || m[0].Process != nil || m[0].User != nil {
			t.Errorf("alert on %s (no process hinted): %+v, want one without process or user", motd, m)
		}
		// The same state again, by someone else: the same finding.
		h.src.send(watch.Event{Path: hosts, Op: watch.Changed, Process: &watch.Process{PID: 7}})
		h.settle(time.Second)
		if n := len(find(h.sink.events(), "updated", hosts)); n != 1 {
			t.Errorf("updated events on %s after a hint by another process with no change: %d, want still 1", hosts, n)
		}
	})
}

// TestTransientAttributed: a file a child process creates, makes
// executable and deletes at once is a transient event carrying that
// process (real fanotify).
func TestTransientAttributed(t *testing.T) {
	h := fanotifyHost(t, fimtest.Tree{"tmp/keep": fimtest.File("k")})
	h.start(t, Options{})
	x := h.path("tmp/x")
	// One process does all three (a shell would run chmod and rm as
	// processes of their own).
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to make, chmod and remove a file from one process")
	}
	cmd := exec.Command(py, "-c", "import os, sys; p = sys.argv[1]; open(p, 'w').write('#!/bin/sh\\n'); os.chmod(p, 0o755); os.unlink(p); input()", x)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	// The daemon verifies at the close: on a loaded machine it may read
	// the file before the process removes it, and then the life is a
	// created alert and its resolution instead of one transient. Either
	// way nothing is missed and the process is named.
	seen := func(evs []alerts.Event) bool {
		return has("transient", x)(evs) || has("created", x)(evs) && has("resolved", x)(evs)
	}
	evs := h.sink.await(t, "transient "+x+", or created and resolved", seen)
	io.WriteString(stdin, "\n")
	if tr := find(evs, "transient", x); len(tr) > 0 {
		ev := tr[0]
		if ev.Process == nil || ev.Process.PID != cmd.Process.Pid || !slices.Equal(ev.Event.Type, []string{"creation", "deletion"}) {
			t.Errorf("transient %s: process %+v type %q, want pid %d, creation and deletion", x, ev.Process, ev.Event.Type, cmd.Process.Pid)
		}
		return
	}
	if ev := find(evs, "created", x)[0]; ev.Process == nil || ev.Process.PID != cmd.Process.Pid {
		t.Errorf("created %s (verified before its removal): process %+v, want pid %d", x, ev.Process, cmd.Process.Pid)
	}
}
