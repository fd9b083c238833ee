package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/internal/trusttest"
)

// startNATS runs an embedded JetStream server on loopback.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// fleetStatus runs fleet status --json and returns host test's line and
// the exit code.
func fleetStatus(t *testing.T, cfg string) (fleet.HostStatus, int) {
	t.Helper()
	out := vigil(t, "--config", cfg, "fleet", "status", "--json")
	var s fleet.HostStatus
	for _, line := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("fleet status --json: %v\n%s", err, out.stdout)
		}
	}
	return s, out.code
}

// waitFleet waits until host test's status satisfies ok (the witness runs
// in another goroutine): a wait for an outcome, bounded, not a timing.
func waitFleet(t *testing.T, cfg string, what string, ok func(fleet.HostStatus) bool) (fleet.HostStatus, int) {
	t.Helper()
	var s fleet.HostStatus
	var code int
	for range 500 {
		if s, code = fleetStatus(t, cfg); ok(s) {
			return s, code
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fleet status never showed %s: last %+v (exit %d)", what, s, code)
	return s, code
}

// TestFleetRollbackCLI: a sealed host in a fleet with a witness (vigil
// fleet serve, in-process, against a real JetStream): its checks publish
// and are witnessed; the database put back with the kept checkpoint
// deleted is exit 8 in check (the local files alone only warn of the
// missing checkpoint) and rollback in fleet status (exit 8) and log.
func TestFleetRollbackCLI(t *testing.T) {
	ns := startNATS(t)
	h := trusttest.NewHost(t)
	dir := t.TempDir()
	mustRun(t, exitOK, "keygen", "--name", "witness1", "--out", dir)
	wpub, err := os.ReadFile(filepath.Join(dir, "vigil.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "host.key")
	if err := os.WriteFile(key, []byte(h.SignerKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.WriteConfig(t, h.Text+fmt.Sprintf("[fleet]\nurl = %q\nhost = \"test\"\nprofile = \"hv\"\nwitnesses = [%q]\n", ns.ClientURL(), strings.TrimSpace(string(wpub))))
	cfg := h.ConfigFile
	if out := vigil(t, "--config", cfg, "fleet", "status"); out.code != exitDatabase {
		t.Errorf("fleet status before init exited %d, want %d (no buckets)\n%s", out.code, exitDatabase, out.stderr)
	}
	mustRun(t, exitOK, "--config", cfg, "fleet", "init")
	mustRun(t, exitOK, "--config", cfg, "fleet", "enroll", "test", "--pubkey", h.Pub)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	var serveErr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--config", cfg, "fleet", "serve", "--key", filepath.Join(dir, "vigil.key")}, &bytes.Buffer{}, &serveErr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("fleet serve exited %d, want 0\n%s", code, serveErr.String())
		}
	}()

	mustRun(t, exitOK, "--config", cfg, "--quiet", "check")
	s, code := waitFleet(t, cfg, "ok", func(s fleet.HostStatus) bool { return s.State == fleet.StateOK })
	if code != exitOK || !s.Sealed || s.Phase != engine.PhaseHardened || s.Witnessed <= 0 || s.Profile != "hv" {
		t.Errorf("fleet status after a check: %+v exit %d; want ok, sealed, hardened, witnessed, profile hv", s, code)
	}
	if err := os.WriteFile(h.Path(trusttest.Program), []byte("ELF su 2"), 0o4755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, exitOK, "--config", cfg, "--quiet", "reseal", "--key", key, "--reason", "planned")
	before := s.Witnessed
	s, _ = waitFleet(t, cfg, "the reseal witnessed", func(s fleet.HostStatus) bool { return s.Witnessed > before })
	resealed := s.Witnessed

	// The red team: the database put back, the kept checkpoint deleted.
	if err := os.WriteFile(h.DB, h.Backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(engine.CheckpointPath(h.DB)); err != nil {
		t.Fatal(err)
	}
	out := vigil(t, "--config", cfg, "--quiet", "check", "--json")
	if out.code != exitTampered || out.stdout != "" || !strings.Contains(out.stderr, "fleet's witnesses") {
		t.Errorf("check of the database put back exited %d with %q, want 8, nothing compared, the witnesses named\n%s", out.code, out.stdout, out.stderr)
	}
	s, code = waitFleet(t, cfg, "rollback", func(s fleet.HostStatus) bool { return s.State == fleet.StateRollback })
	if code != exitTampered {
		t.Errorf("fleet status of a rolled-back host exited %d, want 8", code)
	}
	log := mustRun(t, exitOK, "--config", cfg, "fleet", "log", "test")
	if !strings.Contains(log.stdout, ": rollback, witnessed size") || strings.Count(log.stdout, " update ") < 3 {
		t.Errorf("fleet log test = %q, want three updates and a rollback decision", log.stdout)
	}
	// The fleet's operator lets the host start over: its next check is
	// witnessed as a first one (and fails on its own: the kept checkpoint
	// is still missing).
	mustRun(t, exitOK, "--config", cfg, "fleet", "forget", "test")
	vigil(t, "--config", cfg, "--quiet", "check")
	s, code = waitFleet(t, cfg, "a decision after forget", func(s fleet.HostStatus) bool { return s.State != fleet.StateRollback && s.State != fleet.StatePending })
	if code != exitChanged || s.State != fleet.StateCheckFailing || s.Witnessed >= resealed {
		t.Errorf("fleet status after forget: %+v exit %d; want check_failing (exit 4), witnessed below %d", s, code, resealed)
	}
}

// TestFleetUnreachableCheck: a fleet that cannot be reached is a warning
// in check's summary, and check goes on with the local checkpoint.
func TestFleetUnreachableCheck(t *testing.T) {
	h := trusttest.NewHost(t)
	h.WriteConfig(t, h.Text+"[fleet]\nurl = \"nats://127.0.0.1:1\"\nhost = \"test\"\nwitnesses = [\"w+01234567+AWnLpEOj2gRe6MZLDhhVBiFtbgjvcHi/H0V1wi6ulqFp\"]\n")
	out := vigil(t, "--config", h.ConfigFile, "check", "--json")
	if out.code != exitOK || !strings.Contains(out.stdout, `"fleet_unreachable"`) {
		t.Errorf("check with the fleet unreachable exited %d, want 0 and a fleet_unreachable warning\n%s%s", out.code, out.stdout, out.stderr)
	}
}

// TestFleetGoldenCLI: fleet golden set promotes a sealed host's baseline
// (signed by a golden key, refused with any other), golden log lists it,
// and fleet diff --golden is exit 0 until a reseal changes a file, then
// exit 4 naming it (from the manifests in the fleet, as check reports).
func TestFleetGoldenCLI(t *testing.T) {
	ns := startNATS(t)
	h := trusttest.NewHost(t)
	gdir := t.TempDir()
	mustRun(t, exitOK, "keygen", "--name", "ops-golden", "--out", gdir)
	gpub, err := os.ReadFile(filepath.Join(gdir, "vigil.pub"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(t.TempDir(), "host.key")
	if err := os.WriteFile(hostKey, []byte(h.SignerKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.WriteConfig(t, h.Text+fmt.Sprintf("[fleet]\nurl = %q\nhost = \"test\"\nprofile = \"hv\"\ngolden_keys = [%q]\n", ns.ClientURL(), strings.TrimSpace(string(gpub))))
	cfg := h.ConfigFile
	mustRun(t, exitOK, "--config", cfg, "fleet", "init")
	mustRun(t, exitOK, "--config", cfg, "fleet", "enroll", "test", "--pubkey", h.Pub)
	mustRun(t, exitOK, "--config", cfg, "--quiet", "check") // publishes the state and the portable tree

	if out := vigil(t, "--config", cfg, "fleet", "golden", "set", "hv", "--from", "test", "--reason", "intruder", "--key", hostKey); out.code == exitOK {
		t.Errorf("a golden statement signed by the host's key (not a golden key) was accepted:\n%s", out.stdout)
	}
	set := mustRun(t, exitOK, "--config", cfg, "fleet", "golden", "set", "hv", "--from", "test", "--reason", "CHG-77", "--key", filepath.Join(gdir, "vigil.key"))
	if !strings.Contains(set.stdout, `golden baseline of profile hv: host test`) {
		t.Errorf("golden set printed %q", set.stdout)
	}
	if log := mustRun(t, exitOK, "--config", cfg, "fleet", "golden", "log", "hv"); strings.Count(log.stdout, "\n") != 1 || !strings.Contains(log.stdout, "CHG-77") {
		t.Errorf("golden log = %q, want the one promotion", log.stdout)
	}
	mustRun(t, exitOK, "--config", cfg, "--quiet", "fleet", "diff", "test", "--golden")

	if err := os.WriteFile(h.Path("etc/passwd"), []byte("root:x:0:0\nmallory:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, exitOK, "--config", cfg, "--quiet", "reseal", "--key", hostKey, "--reason", "planned")
	out := mustRun(t, exitChanged, "--config", cfg, "--quiet", "fleet", "diff", "test", "--golden", "--json")
	var changed []string
	for _, line := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
		var ev struct {
			Event struct{ Action string } `json:"event"`
			File  *struct{ Path string }  `json:"file"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("fleet diff --json line %q: %v", line, err)
		}
		if ev.File != nil {
			changed = append(changed, ev.Event.Action+" "+ev.File.Path)
		}
	}
	if len(changed) != 1 || changed[0] != "updated "+h.Path("etc/passwd") {
		t.Errorf("fleet diff test --golden: %q, want etc/passwd updated", changed)
	}
	if out := vigil(t, "--config", cfg, "fleet", "diff", "test"); out.code != exitUsage {
		t.Errorf("fleet diff with one host and no --golden exited %d, want %d", out.code, exitUsage)
	}
}
