package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
)

// sealSetup is a setup whose configuration names a phase marker and a
// pinned key, with a key pair made by keygen.
type sealSetup struct {
	setup
	marker, key, pub, checkpoint string
}

func newSealSetup(t *testing.T, tree fimtest.Tree) sealSetup {
	t.Helper()
	s := sealSetup{setup: newSetup(t, tree)}
	dir := t.TempDir()
	s.marker, s.checkpoint = filepath.Join(dir, "phase2_hardened"), filepath.Join(dir, "checkpoint")
	keys := filepath.Join(dir, "keys")
	mustRun(t, 0, s.args("keygen", "--name", "test-host", "--out", keys)...)
	s.key, s.pub = filepath.Join(keys, "vigil.key"), filepath.Join(keys, "vigil.pub")
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[phase]\nhardened_markers = [%q]\n\n[trust]\npubkey = %q\ncheckpoint = %q\n", s.marker, s.pub, s.checkpoint)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s sealSetup) harden(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(s.marker, []byte("hardened\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKeygen(t *testing.T) {
	t.Parallel()
	s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	st, err := os.Stat(s.key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("vigil.key: %v, mode %v; want 0600", err, st.Mode())
	}
	pub, _ := os.ReadFile(s.pub)
	if !strings.HasPrefix(string(pub), "test-host+") || strings.Count(string(pub), "\n") != 1 {
		t.Errorf("vigil.pub = %q, want one line naming test-host", pub)
	}
	before, _ := os.ReadFile(s.key)
	mustRun(t, exitUsage, s.args("keygen", "--name", "other", "--out", filepath.Dir(s.key))...)
	if after, _ := os.ReadFile(s.key); string(after) != string(before) {
		t.Errorf("a refused keygen changed vigil.key")
	}
}

// TestTwoPhaseLife: setup phase, changes accepted by update; the
// transition writes the marker and seals; tampering is reported; update is
// refused in the hardened phase and reseal accepts the planned change;
// the rollback to setup is recorded.
func TestTwoPhaseLife(t *testing.T) {
	t.Parallel()
	s := newSealSetup(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0"), "bin/ls": fimtest.File("ELF")})
	mustRun(t, 0, s.args("init")...)
	// In the setup phase unsigned baselines are how the phase works, also
	// with a key pinned.
	out := mustRun(t, 0, s.args("check")...)
	_ = out
	os.WriteFile(s.path("etc/passwd"), []byte("root:x:0:0\nsetup:x:1:1"), 0o644)
	mustRun(t, 0, s.args("update")...)

	s.harden(t)
	mustRun(t, exitUsage, s.args("seal")...) // no key
	out = mustRun(t, 0, s.args("seal", "--key", s.key, "--reason", "phase 2")...)
	if !strings.Contains(out.stdout, "checkpoint") {
		t.Errorf("seal printed %q, want the audit log's checkpoint", out.stdout)
	}
	mustRun(t, 0, s.args("check")...)
	mustRun(t, 0, s.args("verify")...)
	if _, err := os.Stat(s.checkpoint); err != nil {
		t.Errorf("trust.checkpoint not kept: %v", err)
	}
	phase := mustRun(t, 0, s.args("phase", "--json")...)
	var ph struct {
		Phase      string             `json:"phase"`
		SealedRoot string             `json:"sealed_root"`
		Allowed    []string           `json:"allowed_operations"`
		History    []engine.PhaseMove `json:"history"`
	}
	if err := json.Unmarshal([]byte(phase.stdout), &ph); err != nil || ph.Phase != "hardened" || ph.SealedRoot == "" {
		t.Errorf("phase --json = %q (%v), want hardened with the sealed root", phase.stdout, err)
	}
	if slices.Contains(ph.Allowed, "update") || !slices.Contains(ph.Allowed, "reseal --key") {
		t.Errorf("phase --json: allowed_operations %q in the hardened phase", ph.Allowed)
	}
	if h := ph.History; len(h) != 1 || h[0].From != "setup" || h[0].To != "hardened" || !h[0].Signed || h[0].Reason != "phase 2" {
		t.Errorf("phase --json: history %+v, want one signed move to hardened, 'phase 2'", h)
	}

	// A proof of one file, checked in another process with nothing but
	// the proof and the public key.
	proof := filepath.Join(t.TempDir(), "ls.proof.json")
	os.WriteFile(proof, []byte(mustRun(t, 0, s.args("proof", s.path("bin/ls"))...).stdout), 0o644)
	bin := buildVigil(t)
	offline := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"verify-proof", proof, "--pubkey", s.pub}, args...)...)
		cmd.Dir, cmd.Env = t.TempDir(), []string{"PATH=/usr/bin:/bin"}
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := offline("--against", s.path("bin/ls")); code != 0 || !strings.Contains(out, "matches the sealed state") {
		t.Errorf("verify-proof --against the sealed file exited %d: %s", code, out)
	}
	raw, _ := os.ReadFile(proof)
	if info, _ := os.Stat(proof); len(raw) > 4096 {
		t.Errorf("proof of one file is %d bytes (%v), want under 4 KiB", len(raw), info.Size())
	}

	os.WriteFile(s.path("bin/ls"), []byte("ELF evil"), 0o755)
	if code, out := offline("--against", s.path("bin/ls")); code != exitChanged || !strings.Contains(out, "does NOT match") {
		t.Errorf("verify-proof --against the tampered file exited %d: %s", code, out)
	}
	os.WriteFile(proof, []byte(strings.Replace(string(raw), `"mode":493`, `"mode":2541`, 1)), 0o644)
	if code, out := offline(); code != exitTampered {
		t.Errorf("verify-proof of a proof with its mode edited exited %d, want 8: %s", code, out)
	}
	mustRun(t, exitChanged, s.args("check")...)
	mustRun(t, exitUsage, s.args("update")...)                 // hardened: reseal
	mustRun(t, exitUsage, s.args("reseal", "--key", s.key)...) // a reason is required
	mustRun(t, 0, s.args("reseal", "--key", s.key, "--reason", "package upgrade")...)
	mustRun(t, 0, s.args("check")...)
	mustRun(t, 0, s.args("verify")...)

	// The marker removed: the recorded phase stays in force, and says so.
	os.Remove(s.marker)
	out = mustRun(t, exitTampered, s.args("phase")...)
	if !strings.Contains(out.stdout, "phase      hardened") {
		t.Errorf("phase with the marker removed printed %q, want the hardened phase in force", out.stdout)
	}
	mustRun(t, exitTampered, s.args("check")...)
	mustRun(t, exitUsage, s.args("phase", "setup", "--key", s.key)...) // a reason is required
	mustRun(t, 0, s.args("phase", "setup", "--key", s.key, "--reason", "maintenance")...)
	mustRun(t, 0, s.args("phase")...)
	mustRun(t, 0, s.args("check")...)
	audit := mustRun(t, 0, s.args("audit", "--json")...)
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(audit.stdout), "\n") {
		var r struct{ Type, Phase, Reason string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		types = append(types, r.Type+":"+r.Phase)
	}
	want := "init:setup update:setup seal:hardened reseal:hardened phase:setup"
	if strings.Join(types, " ") != want {
		t.Errorf("audit log = %v, want %s", types, want)
	}
}

// TestSealAttacks: with a key pinned, every way an intruder who can write
// the database could make check pass after changing the host fails.
func TestSealAttacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		attack func(t *testing.T, s sealSetup)
	}{
		{"database initialised after the change", func(t *testing.T, s sealSetup) {
			os.WriteFile(s.path("f"), []byte("evil"), 0o644)
			fresh := filepath.Join(t.TempDir(), "fresh.db")
			// The kept checkpoint is not of the new database: refused.
			mustRun(t, exitTampered, append(s.args("--db", fresh), "init")...)
			os.Remove(s.checkpoint)
			mustRun(t, 0, append(s.args("--db", fresh), "init")...)
			raw, _ := os.ReadFile(fresh)
			os.WriteFile(s.db, raw, 0o600)
		}},
		{"database initialised after the change, kept checkpoint gone", func(t *testing.T, s sealSetup) {
			os.WriteFile(s.path("f"), []byte("evil"), 0o644)
			os.Remove(s.checkpoint)
			os.Remove(s.db)
			mustRun(t, 0, s.args("init")...)
		}},
		{"signed by another key", func(t *testing.T, s sealSetup) {
			other := filepath.Join(t.TempDir(), "k")
			mustRun(t, 0, s.args("keygen", "--name", "intruder", "--out", other)...)
			os.WriteFile(s.path("f"), []byte("evil"), 0o644)
			mustRun(t, 0, s.args("seal", "--key", filepath.Join(other, "vigil.key"), "--reason", "r")...)
		}},
		{"sealed again over a pending change", func(t *testing.T, s sealSetup) {
			os.WriteFile(s.path("f"), []byte("evil"), 0o644)
			mustRun(t, exitUsage, s.args("seal", "--key", s.key)...) // pending: a reason is required
			mustRun(t, exitUsage, s.args("init", "--force")...)      // hardened: refused
			mustRun(t, exitUsage, s.args("seal", "--statement-out", filepath.Join(t.TempDir(), "st"))...)
			mustRun(t, exitUsage, s.args("update")...)
			// Nothing was accepted: check still reports the change (4),
			// and the marker deleted makes it critical (8).
			mustRun(t, exitChanged, s.args("check")...)
			os.Remove(s.marker)
		}},
		{"kept checkpoint deleted, database put back", func(t *testing.T, s sealSetup) {
			backup, _ := os.ReadFile(s.db)
			os.WriteFile(s.path("f"), []byte("v2"), 0o644)
			mustRun(t, 0, s.args("reseal", "--key", s.key, "--reason", "r")...)
			os.WriteFile(s.path("f"), []byte("f"), 0o644)
			os.Remove(s.checkpoint)
			os.WriteFile(s.db, backup, 0o600)
		}},
		{"marker deleted", func(t *testing.T, s sealSetup) {
			os.Remove(s.marker)
		}},
		{"counts edited", func(t *testing.T, s sealSetup) {
			editInfo(t, s.db, func(in map[string]any) { in["counts"].(map[string]any)["files"] = 99.0 })
		}},
		{"configuration digest edited", func(t *testing.T, s sealSetup) {
			editInfo(t, s.db, func(in map[string]any) { in["config_digest"] = strings.Repeat("0", 64) })
		}},
		{"an older sealed baseline made current", func(t *testing.T, s sealSetup) {
			os.WriteFile(s.path("f"), []byte("v2"), 0o644)
			mustRun(t, 0, s.args("reseal", "--key", s.key, "--reason", "r")...)
			setCurrent(t, s.db, 2)
		}},
		{"the whole file put back from a backup", func(t *testing.T, s sealSetup) {
			backup, _ := os.ReadFile(s.db)
			os.WriteFile(s.path("f"), []byte("v2"), 0o644)
			mustRun(t, 0, s.args("reseal", "--key", s.key, "--reason", "r")...)
			mustRun(t, 0, s.args("check")...) // keeps the newer checkpoint
			os.WriteFile(s.db, backup, 0o600)
		}},
		{"audit log rewritten", func(t *testing.T, s sealSetup) {
			boltUpdate(t, s.db, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("audit")).Put(binary.BigEndian.AppendUint64(nil, 0), []byte(`{"type":"init","reason":"nothing to see"}`))
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
			mustRun(t, 0, s.args("init")...)
			s.harden(t)
			mustRun(t, 0, s.args("seal", "--key", s.key)...)
			mustRun(t, 0, s.args("check")...)
			tt.attack(t, s)
			for _, cmd := range []string{"check", "verify"} {
				if out := vigil(t, s.args(cmd)...); out.code&exitTampered == 0 || out.code > exitUsage {
					t.Errorf("%s after the attack exited %d, want %d (with 1, 2, 4)\n%s%s", cmd, out.code, exitTampered, out.stdout, out.stderr)
				}
			}
		})
	}
}

// boltUpdate changes the database at path with bbolt directly, as an
// intruder would.
func boltUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// editInfo changes the current baseline's info.
func editInfo(t *testing.T, path string, fn func(map[string]any)) {
	t.Helper()
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		cur := tx.Bucket([]byte("meta")).Get([]byte("current"))
		bs := tx.Bucket([]byte("baselines"))
		var in map[string]any
		if err := json.Unmarshal(bs.Get(cur), &in); err != nil {
			return err
		}
		fn(in)
		raw, _ := json.Marshal(in)
		return bs.Put(cur, raw)
	})
}

// setCurrent makes baseline id current.
func setCurrent(t *testing.T, path string, id uint64) {
	t.Helper()
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("current"), binary.BigEndian.AppendUint64(nil, id))
	})
}

// TestSealOffHost: the statement leaves the host, is signed elsewhere and
// comes back; a signature of another statement is refused.
func TestSealOffHost(t *testing.T) {
	t.Parallel()
	s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	s.harden(t)
	stmt := filepath.Join(t.TempDir(), "statement")
	mustRun(t, 0, s.args("seal", "--statement-out", stmt)...)
	mustRun(t, exitTampered, s.args("check")...) // not signed yet
	signed := mustRun(t, 0, s.args("sign", "--key", s.key, stmt)...)
	sig := filepath.Join(t.TempDir(), "signed")
	os.WriteFile(sig, []byte(signed.stdout), 0o644)
	mustRun(t, 0, s.args("seal", "--signature", sig)...)
	mustRun(t, 0, s.args("check")...)
	mustRun(t, 0, s.args("verify")...)
	// A signature of another baseline's statement does not attach.
	os.WriteFile(s.path("f"), []byte("g"), 0o644)
	mustRun(t, 0, s.args("reseal", "--key", s.key, "--reason", "r")...)
	if out := vigil(t, s.args("seal", "--signature", sig)...); out.code != exitTampered {
		t.Errorf("attaching a signature of another statement exited %d, want %d\n%s", out.code, exitTampered, out.stderr)
	}
}

// buildVigil builds the vigil binary once per test binary.
var builtVigil = struct {
	once sync.Once
	path string
	err  error
}{}

func buildVigil(t *testing.T) string {
	t.Helper()
	builtVigil.once.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-bin-")
		if err != nil {
			builtVigil.err = err
			return
		}
		builtVigil.path = filepath.Join(dir, "vigil")
		out, err := exec.Command("go", "build", "-o", builtVigil.path, "vigil/cmd/vigil").CombinedOutput()
		if err != nil {
			builtVigil.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtVigil.err != nil {
		t.Fatal(builtVigil.err)
	}
	return builtVigil.path
}

// TestPhaseSeverity: every event says the phase in force; a change in the
// setup phase is of low severity, in the hardened phase (recorded by the
// seal) of high.
func TestPhaseSeverity(t *testing.T) {
	t.Parallel()
	s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	os.WriteFile(s.path("f"), []byte("changed"), 0o644)
	for _, tc := range []struct {
		phase    string
		severity int
	}{{"setup", alerts.SeverityLearning}, {"hardened", alerts.SeverityAlert}} {
		if tc.phase == "hardened" {
			s.harden(t)
			mustRun(t, 0, s.args("seal", "--key", s.key)...)
			os.WriteFile(s.path("f"), []byte("changed again"), 0o644)
		}
		out := mustRun(t, exitChanged, s.args("check", "--json")...)
		for _, l := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
			var ev struct {
				Event struct {
					Severity int
					Action   string
				}
				Vigil struct{ Phase string }
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Event.Action == "summary" {
				if ev.Vigil.Phase != tc.phase || ev.Event.Severity != alerts.SeverityInfo {
					t.Errorf("%s phase: summary %s, want phase %q severity info", tc.phase, l, tc.phase)
				}
				continue
			}
			if ev.Vigil.Phase != tc.phase || ev.Event.Severity != tc.severity {
				t.Errorf("%s phase: event %s has phase %q severity %d, want %q %d", tc.phase, l, ev.Vigil.Phase, ev.Event.Severity, tc.phase, tc.severity)
			}
		}
	}
}
