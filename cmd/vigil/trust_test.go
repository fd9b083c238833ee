package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/trusttest"
)

// TestTrustTable runs the trust table through vigil check; the daemon's
// verifier runs the same table (internal/daemon TestTrustTable) and must
// reach the same verdicts.
func TestTrustTable(t *testing.T) {
	t.Parallel()
	for _, c := range trusttest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			h := trusttest.NewHost(t)
			if c.Attack != nil {
				c.Attack(t, h)
			}
			out := vigil(t, "--config", h.ConfigFile, "--quiet", "check", "--json")
			if c.Untrusted {
				if out.code != exitTampered || out.stdout != "" {
					t.Errorf("check of an untrusted baseline exited %d with %q, want 8 and nothing compared\n%s", out.code, out.stdout, out.stderr)
				}
				return
			}
			want := 0
			if c.Changed {
				want |= exitChanged
			}
			if len(c.Critical) > 0 {
				want |= exitTampered
			}
			_, sum := decodeEvents(t, out.stdout)
			if out.code != want || !slices.Equal(sum.Trust, c.Critical) || sum.Phase != c.Phase {
				t.Errorf("check exited %d, trust %q, phase %q; want %d, %q, %q\n%s%s", out.code, sum.Trust, sum.Phase, want, c.Critical, c.Phase, out.stdout, out.stderr)
			}
		})
	}
}

// TestDamagedMetaNoTrust: a copy of the database with its newest meta page
// damaged (bbolt would fall back to the transaction before) gets no trust
// decision (exit 24), and checking it never moves the kept checkpoint: the
// older database put back afterwards is still caught (exit 8). The red
// team's copy moved the checkpoint backwards from 6 to 5.
func TestDamagedMetaNoTrust(t *testing.T) {
	t.Parallel()
	h := trusttest.NewHost(t)
	must(t, os.WriteFile(h.Path(trusttest.Program), []byte("ELF su 2"), 0o4755))
	mustRun(t, 0, "--config", h.ConfigFile, "reseal", "--key", writeKey(t, h), "--reason", "upgrade")
	kept := engine.CheckpointPath(h.DB)
	before, err := os.ReadFile(kept)
	must(t, err)
	raw, err := os.ReadFile(h.DB)
	must(t, err)
	const pageHeader = 16
	txid := func(p int) uint64 { return binary.LittleEndian.Uint64(raw[p*4096+pageHeader+48:]) }
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	raw[newest*4096+pageHeader+20] ^= 0xff
	must(t, os.WriteFile(h.DB, raw, 0o600))
	mustRun(t, exitDatabase, "--config", h.ConfigFile, "check")
	if after, _ := os.ReadFile(kept); !bytes.Equal(after, before) {
		t.Errorf("a check of a damaged database changed the kept checkpoint:\n%s\nwant\n%s", after, before)
	}
	must(t, os.WriteFile(h.DB, h.Backup, 0o600))
	if out := vigil(t, "--config", h.ConfigFile, "check"); out.code&exitTampered == 0 {
		t.Errorf("check of the database put back exited %d, want 8\n%s", out.code, out.stderr)
	}
}

// writeKey writes the host's signer key to a file for the CLI.
func writeKey(t *testing.T, h *trusttest.Host) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.key")
	must(t, os.WriteFile(p, []byte(h.SignerKey+"\n"), 0o600))
	return p
}

// TestMaintenanceNeedsNoKey: commands that take no trust decision (log,
// audit, compact) open the database without reading the pinned key, so a
// key file that is gone does not stop them; check says so (exit 18).
func TestMaintenanceNeedsNoKey(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = fmt.Fprintf(f, "\n[trust]\npubkey = %q\n", filepath.Join(t.TempDir(), "gone.pub"))
	must(t, errors.Join(err, f.Close()))
	for _, cmd := range []string{"log", "audit", "compact"} {
		mustRun(t, 0, s.args(cmd)...)
	}
	if out := vigil(t, s.args("check")...); out.code != exitIO || !strings.Contains(out.stderr, "gone.pub") {
		t.Errorf("check with the pinned key file gone exited %d, %q; want 18 naming it", out.code, out.stderr)
	}
}

// TestSetupOverdue: a host left in the setup phase longer than
// phase.setup_max_age, counted from its first record, is a critical
// finding (exit 8); a seal ends it. Not parallel: it moves the engine's
// clock (sampleNow) two hours ahead, and puts it back.
func TestSetupOverdue(t *testing.T) {
	s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	text := fmt.Sprintf("database = %q\nroots = [%q]\n[scan]\nreread_within = 0\n[phase]\nhardened_markers = [%q]\nsetup_max_age = \"1h\"\n[trust]\npubkey = %q\n",
		s.db, s.root, s.marker, s.pub)
	must(t, os.WriteFile(s.config, []byte(text), 0o644))
	mustRun(t, 0, s.args("init")...)
	mustRun(t, 0, s.args("check")...)
	sampleNow = func() time.Time { return time.Now().Add(2 * time.Hour) }
	t.Cleanup(func() { sampleNow = nil })
	out := vigil(t, s.args("check", "--json")...)
	if _, sum := decodeEvents(t, out.stdout); out.code != exitTampered || !slices.Equal(sum.Trust, []string{"setup_overdue"}) {
		t.Errorf("check two hours into a one-hour setup phase exited %d, trust %q; want 8, [setup_overdue]\n%s", out.code, sum.Trust, out.stderr)
	}
	s.harden(t)
	mustRun(t, 0, s.args("seal", "--key", s.key)...)
	mustRun(t, 0, s.args("check")...)
}

// TestMissingCheckpointRefusesUpdate: with the kept checkpoint deleted, an
// update (unsigned) refuses and writes nothing; init --force, the setup
// phase's way to start over, writes a new one; a kept checkpoint that
// cannot be read is a critical finding of its own.
func TestMissingCheckpointRefusesUpdate(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	kept := engine.CheckpointPath(s.db)
	must(t, os.Remove(kept))
	audit := mustRun(t, 0, s.args("audit", "--json")...).stdout
	must(t, os.WriteFile(s.path("f"), []byte("changed"), 0o644))
	if out := vigil(t, s.args("update")...); out.code != exitTampered || !strings.Contains(out.stderr, "checkpoint") {
		t.Errorf("update with the kept checkpoint gone exited %d, %q; want 8 naming it", out.code, out.stderr)
	}
	if after := mustRun(t, 0, s.args("audit", "--json")...).stdout; after != audit {
		t.Errorf("a refused update changed the audit log:\n%s\nwant\n%s", after, audit)
	}
	if _, err := os.Stat(kept); err == nil {
		t.Errorf("a refused update wrote the kept checkpoint")
	}
	mustRun(t, 0, s.args("init", "--force")...)
	mustRun(t, 0, s.args("check")...)
	// A directory where the checkpoint should be: it cannot be read.
	must(t, os.Remove(kept))
	must(t, os.Mkdir(kept, 0o700))
	out := vigil(t, s.args("check", "--json")...)
	if _, sum := decodeEvents(t, out.stdout); out.code != exitTampered || !slices.Equal(sum.Trust, []string{"checkpoint_unreadable"}) {
		t.Errorf("check with an unreadable kept checkpoint exited %d, trust %q; want 8, [checkpoint_unreadable]\n%s", out.code, sum.Trust, out.stderr)
	}
}
