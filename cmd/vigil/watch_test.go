package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// lines returns the complete JSON lines of path as events.
func lines(t *testing.T, path string) []alerts.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []alerts.Event
	ls := bytes.Split(data, []byte("\n"))
	for _, l := range ls[:len(ls)-1] {
		var ev alerts.Event
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		out = append(out, ev)
	}
	return out
}

func updated(evs []alerts.Event) map[string]bool {
	got := map[string]bool{}
	for _, ev := range evs {
		if ev.Event.Action == "updated" {
			got[ev.File.Path] = true
		}
	}
	return got
}

// TestWatchKill9LosesNothing kills the daemon with SIGKILL while its
// webhook refuses everything: after a restart against a webhook that
// accepts, every alert arrives.
func TestWatchKill9LosesNothing(t *testing.T) {
	bin := buildVigil(t)
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	var got []alerts.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		var ev alerts.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer srv.Close()

	root, dir := t.TempDir(), t.TempDir()
	const n = 10
	tree := fimtest.Tree{}
	for i := range n {
		tree[fmt.Sprintf("etc/f%d", i)] = fimtest.File("x")
	}
	tree.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	cfg, db, events := filepath.Join(dir, "vigil.toml"), filepath.Join(dir, "vigil.db"), filepath.Join(dir, "events.json")
	text := fmt.Sprintf("roots = [%q]\n[watch]\nsettle = \"20ms\"\n[[sink]]\ntype = \"webhook\"\nurl = %q\nbackoff = \"10ms\"\n[[sink]]\ntype = \"file\"\npath = %q\n", root, srv.URL, events)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config", cfg, "--db", db, "--quiet", "init").CombinedOutput(); err != nil {
		t.Fatalf("vigil init: %v\n%s", err, out)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--config", cfg, "--db", db, "--quiet", "watch")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 20s", what)
			}
			time.Sleep(20 * time.Millisecond) // polling, not an assertion
		}
	}
	cmd := start()
	waitFor("start notice", func() bool { return len(lines(t, events)) > 0 })
	for i := range n {
		if err := os.WriteFile(filepath.Join(root, "etc", fmt.Sprintf("f%d", i)), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The file sink has them: they are in the outbox for the webhook too
	// (one transaction queues an event for every sink).
	waitFor(fmt.Sprintf("%d updated in the file sink", n), func() bool { return len(updated(lines(t, events))) == n })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("vigil watch exited 0 after SIGKILL")
	}
	down.Store(false)
	cmd = start()
	defer func() {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("vigil watch after SIGTERM: %v, want exit 0", err)
		}
	}()
	waitFor(fmt.Sprintf("%d updated at the webhook after the restart", n), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(updated(got)) == n
	})
}

// TestWatchNotifiesSystemd runs vigil watch with NOTIFY_SOCKET pointing at
// a datagram socket of the test, as systemd's Type=notify does: READY=1
// comes after the first whole check, with STATUS=; SIGTERM gives STOPPING=1
// and exit 0.
func TestWatchNotifiesSystemd(t *testing.T) {
	bin := buildVigil(t)
	root, dir := t.TempDir(), t.TempDir()
	fimtest.Tree{"etc/a": fimtest.File("a")}.Make(t, root)
	cfg, db := filepath.Join(dir, "vigil.toml"), filepath.Join(dir, "vigil.db")
	// inotify whatever the privileges: the status counts its watches.
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("roots = [%q]\n[watch]\nintake = \"inotify\"\n", root)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config", cfg, "--db", db, "--quiet", "init").CombinedOutput(); err != nil {
		t.Fatalf("vigil init: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(bin, "--config", cfg, "--db", db, "--quiet", "watch")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	read := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v; got %q", want, err, got)
			}
			got = append(got, string(buf[:n]))
			if strings.HasPrefix(string(buf[:n]), want) {
				return
			}
		}
	}
	read("READY=1")
	read("STATUS=watching 2 directories")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("vigil watch after SIGTERM: %v, want exit 0", err)
	}
}

// TestRestoreRemediationAccepted: a rule with remediation = "restore" is
// a valid configuration now that the Btrfs restore is wired in.
func TestRestoreRemediationAccepted(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, exitOK, s.args("init")...)
	text, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, append(text, fmt.Sprintf("[[rule]]\npaths = [%q]\nattributes = [\"all\"]\nremediation = \"restore\"\n", s.root+"/**")...), 0o644))
	mustRun(t, exitOK, s.args("config", "check")...)
}
