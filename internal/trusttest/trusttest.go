// Package trusttest is the table of attacks on vigil's trust decision that
// every caller of [engine.Engine.Trust] is tested against: the CLI's check
// (cmd/vigil) and the daemon's verifier (internal/daemon) run the same
// cases and must reach the same verdicts. Test code only.
package trusttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/store"
)

// Host is a sealed host in the hardened phase: a tree with a setuid
// program, a configuration pinning the key, the marker, the database with
// an init and a seal, and the kept checkpoint beside it.
type Host struct {
	Root, Dir  string
	DB         string
	ConfigFile string
	// Text is the configuration's text; Config is it parsed.
	Text   string
	Config *config.Config
	Marker string
	Key    note.Signer
	// SignerKey is Key's text, for a key file.
	SignerKey string
	Pub       string
	// Backup is the database file as it was right after the seal.
	Backup []byte
	// Name is the host's name ("test" by default).
	Name string
}

// Program is the path, under Root, of the sealed setuid program.
const Program = "bin/su"

// NewHost makes a sealed host.
func NewHost(t testing.TB) *Host {
	t.Helper()
	return NewHostAt(t, t.TempDir(), "test", nil)
}

// NewHostAt makes a sealed host named name (its engine's host) whose tree
// is at root (made if missing); edit, if set, changes the tree before the
// baseline is taken. Hosts made one after the other at one root, the
// tree moved away in between, are a fleet's hosts monitoring the same
// paths.
func NewHostAt(t testing.TB, root, name string, edit func(root string)) *Host {
	t.Helper()
	h := &Host{Root: root, Dir: t.TempDir(), Name: name}
	must(t, os.MkdirAll(root, 0o755))
	must(t, os.Chmod(root, 0o755))
	fimtest.Tree{Program: fimtest.File("ELF su"), "etc/passwd": fimtest.File("root:x:0:0\n")}.Make(t, h.Root)
	if edit != nil {
		edit(root)
	}
	if err := os.Chmod(filepath.Join(h.Root, Program), 0o4755); err != nil {
		t.Fatal(err)
	}
	fimtest.Age(t, h.Root, fimtest.Past)
	h.DB = filepath.Join(h.Dir, "vigil.db")
	h.Marker = filepath.Join(h.Dir, "phase2_hardened")
	skey, vkey, err := note.GenerateKey(nil, "trusttest")
	if err != nil {
		t.Fatal(err)
	}
	h.Key, _ = note.NewSigner(skey)
	h.SignerKey = skey
	h.Pub = filepath.Join(h.Dir, "vigil.pub")
	must(t, os.WriteFile(h.Pub, []byte(vkey+"\n"), 0o644))
	h.ConfigFile = filepath.Join(h.Dir, "vigil.toml")
	h.Text = fmt.Sprintf("database = %q\nroots = [%q]\n[phase]\nhardened_markers = [%q]\n[trust]\npubkey = %q\n", h.DB, h.Root, h.Marker, h.Pub)
	h.WriteConfig(t, h.Text)
	h.write(t, "init", nil)
	must(t, os.WriteFile(h.Marker, nil, 0o644))
	h.write(t, "seal", h.Key)
	h.Backup, err = os.ReadFile(h.DB)
	must(t, err)
	return h
}

// WriteConfig replaces the configuration file with text.
func (h *Host) WriteConfig(t testing.TB, text string) {
	t.Helper()
	must(t, os.WriteFile(h.ConfigFile, []byte(text), 0o644))
	c, err := config.Parse(h.ConfigFile, []byte(text))
	must(t, err)
	h.Text, h.Config = text, c
}

// Engine returns the host's engine, as the CLI and the daemon build it.
func (h *Host) Engine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.New(h.Config, engine.Settings{Host: h.Name})
	must(t, err)
	return e
}

// write runs init, seal or reseal through the engine as the CLI does, and
// keeps the checkpoint.
func (h *Host) write(t testing.TB, op string, signer note.Signer) {
	t.Helper()
	e := h.Engine(t)
	db, err := store.Open(h.DB, store.Options{})
	must(t, err)
	defer db.Close()
	o := e.Options()
	o.Signer, o.Reason, o.User = signer, "trusttest", "root"
	switch op {
	case "init":
		_, err = engine.Init(context.Background(), db, o)
	case "seal":
		_, err = engine.Seal(context.Background(), db, o)
	case "reseal":
		_, err = engine.Reseal(context.Background(), db, o)
	}
	must(t, err)
	_, err = e.KeepCheckpoint(db, signer)
	must(t, err)
}

// Path returns the path of rel under the host's root.
func (h *Host) Path(rel string) string { return filepath.Join(h.Root, rel) }

// Case is one attack and the verdict every caller must reach.
type Case struct {
	Name   string
	Attack func(t testing.TB, h *Host)
	// Untrusted says the baseline must not be compared with: check exits
	// 8 without comparing, the daemon raises Action and compares nothing.
	Untrusted bool
	// Action is the daemon's event for an untrusted baseline
	// (baseline_unsealed, rollback).
	Action string
	// Critical lists the critical findings, in order.
	Critical []string
	// Phase is the phase in force afterwards.
	Phase string
	// Changed says the attack leaves a change to report (when compared).
	Changed bool
}

// Cases are the attacks of a root on the host against the trust decision.
var Cases = []Case{
	{Name: "untouched", Phase: engine.PhaseHardened},
	{Name: "marker deleted, program trojaned", Phase: engine.PhaseHardened, Critical: []string{"phase_marker_mismatch"}, Changed: true,
		Attack: func(t testing.TB, h *Host) {
			must(t, os.Remove(h.Marker))
			must(t, os.WriteFile(h.Path(Program), []byte("ELF trojan"), 0o4755))
		}},
	{Name: "database put back, kept checkpoint kept", Phase: engine.PhaseHardened, Untrusted: true, Action: "rollback",
		Attack: func(t testing.TB, h *Host) {
			must(t, os.WriteFile(h.Path(Program), []byte("ELF su 2"), 0o4755))
			h.write(t, "reseal", h.Key)
			must(t, os.WriteFile(h.DB, h.Backup, 0o600))
		}},
	{Name: "database put back, kept checkpoint deleted", Phase: engine.PhaseHardened, Critical: []string{"checkpoint_missing"}, Changed: true,
		Attack: func(t testing.TB, h *Host) {
			must(t, os.WriteFile(h.Path(Program), []byte("ELF su 2"), 0o4755))
			h.write(t, "reseal", h.Key)
			must(t, os.WriteFile(h.DB, h.Backup, 0o600))
			must(t, os.Remove(engine.CheckpointPath(h.DB)))
		}},
	{Name: "pinned key removed from the configuration", Phase: engine.PhaseHardened, Critical: []string{"key_unpinned"},
		Attack: func(t testing.TB, h *Host) {
			h.WriteConfig(t, fmt.Sprintf("database = %q\nroots = [%q]\n[phase]\nhardened_markers = [%q]\n", h.DB, h.Root, h.Marker))
		}},
	{Name: "sealed again by another key", Phase: engine.PhaseHardened, Untrusted: true, Action: "baseline_unsealed",
		Attack: func(t testing.TB, h *Host) {
			skey, _, err := note.GenerateKey(nil, "intruder")
			must(t, err)
			other, _ := note.NewSigner(skey)
			must(t, os.WriteFile(h.Path(Program), []byte("ELF trojan"), 0o4755))
			h.write(t, "seal", other)
		}},
	{Name: "move to setup recorded without the key", Phase: engine.PhaseHardened, Critical: []string{"phase_record_forged", "phase_marker_mismatch"},
		Attack: func(t testing.TB, h *Host) {
			skey, _, err := note.GenerateKey(nil, "trusttest")
			must(t, err)
			forger, _ := note.NewSigner(skey)
			db, err := store.Open(h.DB, store.Options{})
			must(t, err)
			defer db.Close()
			tr, err := db.Audit()
			must(t, err)
			st := engine.PhaseStatement{Host: "test", Phase: engine.PhaseSetup, AuditSize: tr.N, AuditRoot: tr.Hash.String(), Time: time.Now().UTC(), Reason: "r", User: "root"}
			sig, err := note.Sign(&note.Note{Text: st.String()}, forger)
			must(t, err)
			rec, _ := json.Marshal(engine.AuditRecord{Time: st.Time, Type: "phase", Phase: engine.PhaseSetup, Reason: "r", User: "root", Host: "test", Signature: string(sig)})
			_, err = db.AppendAudit(rec)
			must(t, err)
			must(t, os.Remove(h.Marker))
		}},
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
