package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/fimtest"
	"vigil/internal/fleet"
	"vigil/internal/trusttest"
)

// TestFleetSilentWatch: a vigil watch with a [fleet] section heartbeats
// (interval 1 s) to a real JetStream; stopped with SIGSTOP it is
// host_silent once three intervals pass, and resolved after SIGCONT.
func TestFleetSilentWatch(t *testing.T) {
	fimtest.Long(t, "a vigil watch stopped for more than three heartbeat intervals")
	bin := vigilBinary(t)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fleet.NewConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	h := trusttest.NewHost(t)
	pub, err := os.ReadFile(h.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Enroll(t.Context(), "test", string(pub), false); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(nil, "witness")
	if err != nil {
		t.Fatal(err)
	}
	w, err := fleet.NewWitness(conn, skey, false)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan string, 64)
	w.OnDecision = func(host string, rec fleet.Record, evs []string) {
		if host != "test" {
			return
		}
		events <- "decision " + rec.State
		for _, e := range evs {
			events <- e
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx, 100*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	h.WriteConfig(t, h.Text+fmt.Sprintf("[fleet]\nurl = %q\nhost = \"test\"\nheartbeat_interval = \"1s\"\nwitnesses = [%q]\n", ns.ClientURL(), vkey))
	cmd := exec.Command(bin, "--config", h.ConfigFile, "watch")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	await := func(want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case e := <-events:
				if e == want {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from the witness within 30s\n%s", want, out.String())
			}
		}
	}
	await("decision ok")
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	await("host_silent")
	if d := time.Since(stopped); d < 2*time.Second {
		t.Errorf("host_silent %v after SIGSTOP, want after three 1 s intervals", d)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	await("resolved")
}
