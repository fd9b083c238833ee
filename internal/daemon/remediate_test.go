package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// hardenedHost is newHost in the hardened phase (its marker present), with
// its baseline sealed as vigil seal does.
func hardenedHost(t *testing.T, tree fimtest.Tree, extra func(root string) string) *host {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "hardened")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostFor(t, tree, func(root string) string {
		return extra(root) + fmt.Sprintf("[phase]\nhardened_markers = [%q]\n", marker)
	})
	skey, _, err := note.GenerateKey(nil, "remediation-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := engine.Seal(context.Background(), db, engine.Options{Config: h.cfg, Host: "test", Phase: engine.PhaseHardened, Signer: signer}); err != nil {
		t.Fatalf("engine.Seal: %v", err)
	}
	return h
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// remediationRule is a [[rule]] for the subtree dir of the host's root
// (content, mode and size monitored) with the remediation keys given.
func remediationRule(root, dir, keys string) string {
	return fmt.Sprintf("[[rule]]\npaths = [%q]\nattributes = [\"content\", \"mode\", \"size\"]\n%s\n", filepath.Join(root, dir)+"/**", keys)
}

// remediation returns the remediation event of the alert with id.
func remediation(evs []alerts.Event, alertID string) (alerts.Event, bool) {
	for _, ev := range evs {
		if ev.Event.Action == "remediation" && ev.Vigil != nil && ev.Vigil.Remediation != nil && ev.Vigil.Remediation.AlertID == alertID {
			return ev, true
		}
	}
	return alerts.Event{}, false
}

// awaitRemediation waits for the alert action on path and the remediation
// of it, and returns both.
func awaitRemediation(t *testing.T, h *host, action, path string) (alert, outcome alerts.Event) {
	t.Helper()
	evs := h.sink.await(t, action+" "+path+" and its remediation", func(evs []alerts.Event) bool {
		a := find(evs, action, path)
		if len(a) == 0 {
			return false
		}
		_, ok := remediation(evs, a[0].Event.ID)
		return ok
	})
	alert = find(evs, action, path)[0]
	outcome, _ = remediation(evs, alert.Event.ID)
	return alert, outcome
}

// TestRemediationExec: in the hardened phase an alert on a path whose rule
// says exec runs the command (a real process) with the alert's JSON on
// stdin, and the outcome is an event: success with exit status 0, failure
// with the exit status and the output, a timeout killed and reported. Real
// processes: outside a bubble (its clock stands still while a child runs).
func TestRemediationExec(t *testing.T) {
	scripts := t.TempDir()
	rec := t.TempDir()
	ok := script(t, scripts, "record", `cat > "$1/stdin"; printf '%s %s %s\n' "$VIGIL_EVENT_ID" "$VIGIL_EVENT_ACTION" "$VIGIL_FILE_PATH" > "$1/env"`+"\n")
	fail := script(t, scripts, "fail", "cat >/dev/null; echo quarantine refused >&2; exit 3\n")
	// The timeout kills the whole process group: sleep's child too.
	slow := script(t, scripts, "slow", "sleep 30 & wait\n")
	tree := fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n"), "bin/tool": fimtest.File("tool"), "sbin/daemon": fimtest.File("d"), "srv/data": fimtest.File("d")}
	h := hardenedHost(t, tree, func(root string) string {
		return remediationRule(root, "etc", fmt.Sprintf("remediation = \"exec\"\nremediation_command = [%q, %q]", ok, rec)) +
			remediationRule(root, "bin", fmt.Sprintf("remediation = \"exec\"\nremediation_command = [%q]", fail)) +
			remediationRule(root, "sbin", fmt.Sprintf("remediation = \"exec\"\nremediation_command = [%q]\nremediation_timeout = \"300ms\"", slow))
	})
	h.start(t, Options{})

	passwd := h.path("etc/passwd")
	h.write(t, "etc/passwd", "root:x:0:0\nevil:x:0:0\n")
	alert, got := awaitRemediation(t, h, "updated", passwd)
	// A second uid 0 account: the classification table's T1136.001 makes
	// the hardened-phase alert critical, and the sink gets the tags.
	if alert.Event.Severity != alerts.SeverityCritical || alert.Vigil.Phase != engine.PhaseHardened ||
		!slices.Contains(alert.Vigil.Security, "uid0_account") || alert.Threat == nil {
		t.Errorf("alert: severity %d phase %q security %q threat %+v, want %d hardened, uid0_account and a technique",
			alert.Event.Severity, alert.Vigil.Phase, alert.Vigil.Security, alert.Threat, alerts.SeverityCritical)
	}
	if got.Event.Outcome != "success" || got.Process == nil || got.Process.ExitCode == nil || *got.Process.ExitCode != 0 ||
		got.Process.Executable != ok || got.Vigil.Remediation.Policy != "exec" || got.File.Path != passwd || got.Event.ID == "" {
		t.Errorf("remediation of %s = %+v process %+v remediation %+v; want success, exit 0, %s, policy exec, an id", passwd, got.Event, got.Process, got.Vigil.Remediation, ok)
	}
	stdin, err := os.ReadFile(filepath.Join(rec, "stdin"))
	if err != nil {
		t.Fatalf("the command recorded no stdin: %v", err)
	}
	var seen alerts.Event
	if err := json.Unmarshal(stdin, &seen); err != nil || seen.Event.ID != alert.Event.ID || seen.Event.Action != "updated" || seen.File.Path != passwd {
		t.Errorf("the command's stdin %q (%v): want the alert's JSON (id %s, updated %s)", stdin, err, alert.Event.ID, passwd)
	}
	env, _ := os.ReadFile(filepath.Join(rec, "env"))
	if want := alert.Event.ID + " updated " + passwd + "\n"; string(env) != want {
		t.Errorf("the command's environment said %q, want %q", env, want)
	}

	tool := h.path("bin/tool")
	h.write(t, "bin/tool", "trojan")
	_, got = awaitRemediation(t, h, "updated", tool)
	if got.Event.Outcome != "failure" || got.Event.Severity != alerts.SeverityAlert || got.Process.ExitCode == nil || *got.Process.ExitCode != 3 ||
		got.Error == nil || !strings.Contains(got.Error.Message, "quarantine refused") {
		t.Errorf("remediation of %s = %+v process %+v error %+v; want failure, severity %d, exit 3, the output in error.message", tool, got.Event, got.Process, got.Error, alerts.SeverityAlert)
	}

	// Killed after 300 ms, not after sleep's 30 s: awaitRemediation gives
	// up long before.
	d := h.path("sbin/daemon")
	h.write(t, "sbin/daemon", "backdoor")
	_, got = awaitRemediation(t, h, "updated", d)
	if got.Event.Outcome != "failure" || !got.Vigil.Remediation.TimedOut || got.Process.ExitCode == nil || *got.Process.ExitCode != -1 {
		t.Errorf("remediation of %s = %+v process %+v remediation %+v; want failure, timed out, exit -1 (killed)", d, got.Event, got.Process, got.Vigil.Remediation)
	}

	// A path no remediation rule decides: alerted, never remediated.
	data := h.path("srv/data")
	h.write(t, "srv/data", "changed")
	evs := h.sink.await(t, "updated "+data, has("updated", data))
	h.stop(t)
	if n := count(h.sink.events(), "remediation"); n != 3 {
		t.Errorf("%d remediation events, want 3 (etc, bin, sbin; none for srv); events:\n%s", n, describe(evs))
	}
	if d := remediationDepth(t, h); d != 0 {
		t.Errorf("remediation queue holds %d after the stop, want 0", d)
	}
}

// remediationDepth opens the stopped daemon's outbox and returns how many
// alerts wait for remediation.
func remediationDepth(t *testing.T, h *host) int {
	t.Helper()
	ob, err := store.OpenOutbox(h.cfg.OutboxPath(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	n, err := ob.Depth(remediationRoute)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNoRemediationInSetup: in the setup phase changes are learning, and
// nothing acts on them, whatever the rules say.
func TestNoRemediationInSetup(t *testing.T) {
	synctest.Test(t, testNoRemediationInSetup)
}

func testNoRemediationInSetup(t *testing.T) {
	rec := t.TempDir()
	ok := script(t, t.TempDir(), "record", `cat > "$1/stdin"`+"\n")
	h := newHostFor(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n")}, func(root string) string {
		return remediationRule(root, "etc", fmt.Sprintf("remediation = \"exec\"\nremediation_command = [%q, %q]", ok, rec))
	})
	h.startIdle(t, Options{})
	passwd := h.path("etc/passwd")
	h.write(t, "etc/passwd", "evil\n")
	h.settle(time.Second)
	evs := h.sink.events()
	if u := find(evs, "updated", passwd); len(u) != 1 || u[0].Event.Severity != alerts.SeverityLearning {
		t.Fatalf("setup-phase change: %s want one updated %s of severity %d (learning)", describe(evs), passwd, alerts.SeverityLearning)
	}
	h.stop(t)
	// Not queued for remediation (the queue is empty after the stop, and
	// the command never ran).
	if d := remediationDepth(t, h); d != 0 {
		t.Errorf("remediation queue holds %d, want 0", d)
	}
	if _, err := os.Stat(filepath.Join(rec, "stdin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the remediation command ran in the setup phase (stat: %v)", err)
	}
	if n := count(h.sink.events(), "remediation"); n != 0 {
		t.Errorf("%d remediation events in the setup phase, want 0", n)
	}
}

// copyRestorer restores paths from a trusted copy of the tree (standing in
// for the read-only snapshot of the Btrfs restore): real files, copied
// back with their mode.
type copyRestorer struct {
	root, snapshot string
	calls          chan string
	// written, if set, is told of each path written (the scripted
	// source's hint of it).
	written func(path string)
}

func (r *copyRestorer) Restore(_ context.Context, path string) (RestoreResult, error) {
	r.calls <- path
	rel, err := filepath.Rel(r.root, path)
	if err != nil {
		return RestoreResult{}, err
	}
	src, err := os.Open(filepath.Join(r.snapshot, rel))
	if err != nil {
		return RestoreResult{}, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return RestoreResult{}, err
	}
	mode := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm())
	if err != nil {
		return RestoreResult{}, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return RestoreResult{}, errors.Join(err, dst.Close())
	}
	if err := dst.Chmod(mode); err != nil {
		return RestoreResult{}, errors.Join(err, dst.Close())
	}
	if err := dst.Close(); err != nil {
		return RestoreResult{}, err
	}
	if r.written != nil {
		r.written(path)
	}
	return RestoreResult{Source: r.snapshot}, nil
}

// TestRemediationRestore: the restore policy calls the Restorer with the
// alerted path; the outcome is an event, and the path, put back, is
// verified again and resolved by the ordinary pipeline.
func TestRemediationRestore(t *testing.T) {
	synctest.Test(t, testRemediationRestore)
}

func testRemediationRestore(t *testing.T) {
	tree := fimtest.Tree{"usr/bin/sudo": fimtest.File("the real sudo").Mode(0o4755)}
	h := hardenedHost(t, tree, func(root string) string { return remediationRule(root, "usr", `remediation = "restore"`) })
	snap := t.TempDir()
	tree.Make(t, snap)
	r := &copyRestorer{root: h.root, snapshot: snap, calls: make(chan string, 8),
		written: func(p string) { h.src.send(watch.Event{Path: p, Op: watch.Changed}) }}
	h.startIdle(t, Options{Restorer: r})

	sudo := h.path("usr/bin/sudo")
	if err := os.WriteFile(sudo, []byte("a trojan sudo"), 0o4755); err != nil {
		t.Fatal(err)
	}
	h.hint("usr/bin/sudo")
	h.settle(time.Second)
	evs := h.sink.events()
	var got []string
	for _, ev := range evs {
		if ev.File != nil && ev.File.Path == sudo {
			got = append(got, ev.Event.Action)
		}
	}
	// The alert, its remediation, and the resolve of the path put back
	// (the restore's own write is a hint like any other).
	if want := []string{"updated", "remediation", "resolved"}; !slices.Equal(got, want) {
		t.Fatalf("events on %s %q, want %q:\n%s", sudo, got, want, describe(evs))
	}
	outcome, _ := remediation(evs, find(evs, "updated", sudo)[0].Event.ID)
	if got := outcome; got.Event.Outcome != "success" || got.Vigil.Remediation.Policy != "restore" || got.Vigil.Remediation.Source != snap || got.Process != nil {
		t.Errorf("restore of %s = %+v remediation %+v; want success, policy restore, source %s", sudo, got.Event, got.Vigil.Remediation, snap)
	}
	if p := <-r.calls; p != sudo || len(r.calls) != 0 {
		t.Errorf("Restore(%q) and %d more calls, want Restore(%q) once", p, len(r.calls), sudo)
	}
	if b, _ := os.ReadFile(sudo); string(b) != "the real sudo" {
		t.Errorf("%s holds %q after the restore, want the snapshot's content", sudo, b)
	}
}

// TestRemediationSurvivesStop: a remediation interrupted by the stop (its
// command killed at once, not after its timeout of a minute) stays queued
// in the outbox and runs at the next start, once.
func TestRemediationSurvivesStop(t *testing.T) {
	rec := t.TempDir()
	// The first run says so through a FIFO and hangs (until the stop kills
	// it), the second records.
	fifo := filepath.Join(rec, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read and write: the open does not wait for a writer, and reads wait
	// (bounded by the deadline) for the command's line.
	started, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer started.Close()
	cmd := script(t, t.TempDir(), "once", `if [ -e "$1/started" ]; then cat > "$1/stdin"; exit 0; fi; touch "$1/started"; echo started > "$1/fifo"; sleep 30 & wait`+"\n")
	h := hardenedHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n")}, func(root string) string {
		return remediationRule(root, "etc", fmt.Sprintf("remediation = \"exec\"\nremediation_command = [%q, %q]\nremediation_timeout = \"1m\"", cmd, rec))
	})
	h.start(t, Options{})
	passwd := h.path("etc/passwd")
	h.write(t, "etc/passwd", "evil\n")
	alert := find(h.sink.await(t, "updated "+passwd, has("updated", passwd)), "updated", passwd)[0]
	if err := started.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if _, err := started.Read(make([]byte, 64)); err != nil {
		t.Fatalf("the remediation command did not start within %v: %v", wait, err)
	}
	h.stop(t) // fails the test if the command's 30 s outlast wait
	if d := remediationDepth(t, h); d != 1 {
		t.Fatalf("remediation queue holds %d after a stop mid-remediation, want 1", d)
	}
	h.start(t, Options{})
	_, got := awaitRemediation(t, h, "updated", passwd)
	if got.Event.Outcome != "success" {
		t.Errorf("remediation after the restart: %+v, want success", got.Event)
	}
	if b, err := os.ReadFile(filepath.Join(rec, "stdin")); err != nil || !strings.Contains(string(b), alert.Event.ID) {
		t.Errorf("the second run's stdin = %q (%v), want the alert %s", b, err, alert.Event.ID)
	}
	h.stop(t)
	if n := count(h.sink.events(), "remediation"); n != 1 {
		t.Errorf("%d remediation events, want 1", n)
	}
}

// TestRestoreRefusedWithoutRestorer: a configuration asking for restore is
// refused at the start when no Restorer is wired (a configuration error,
// naming the rule), before anything is written; on SIGHUP it is refused
// and the running one kept.
func TestRestoreRefusedWithoutRestorer(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("x")}, "")
	bad := h.config(t, remediationRule(h.root, "etc", `remediation = "restore"`))
	err := Run(t.Context(), Options{Config: bad})
	var p *config.Problem
	if !errors.Is(err, config.ErrInvalid) || !errors.As(err, &p) || p.Key != "rule[0].remediation" {
		t.Fatalf("Run with remediation = restore and no Restorer = %v, want a configuration problem at rule[0].remediation", err)
	}
	if _, err := os.Stat(bad.OutboxPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused start left an outbox behind (stat: %v)", err)
	}
	if err := CheckRemediation(bad, &copyRestorer{}); err != nil {
		t.Errorf("CheckRemediation with a Restorer = %v, want nil", err)
	}
}
