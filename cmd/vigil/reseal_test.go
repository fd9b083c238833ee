package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/internal/fimtest"
)

// sealed is a sealSetup of tree, initialised, hardened and sealed.
func sealed(t *testing.T, tree fimtest.Tree) sealSetup {
	t.Helper()
	s := newSealSetup(t, tree)
	mustRun(t, 0, s.args("init")...)
	s.harden(t)
	mustRun(t, 0, s.args("seal", "--key", s.key, "--reason", "phase 2")...)
	return s
}

// auditTypes returns the type of every audit record, oldest first.
func auditTypes(t *testing.T, s sealSetup) []string {
	t.Helper()
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, 0, s.args("audit", "--json")...).stdout), "\n") {
		var r struct{ Type string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		types = append(types, r.Type)
	}
	return types
}

// TestResealFrom: in the hardened phase, reseal --from REPORT accepts the
// reviewed changes only; one made after the report stays pending.
func TestResealFrom(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b"), "old": fimtest.File("o")})
	must(t, os.WriteFile(s.path("a"), []byte("a2"), 0o644))
	must(t, os.WriteFile(s.path("new"), []byte("n"), 0o644))
	must(t, os.Remove(s.path("old")))
	report := filepath.Join(t.TempDir(), "report.json")
	must(t, os.WriteFile(report, []byte(vigil(t, s.args("check", "--json")...).stdout), 0o600))
	must(t, os.WriteFile(s.path("b"), []byte("after the review"), 0o644))

	mustRun(t, exitUsage, s.args("update", "--from", report)...) // hardened: only a signed reseal
	out := mustRun(t, 0, s.args("reseal", "--from", report, "--key", s.key, "--reason", "CHG-2")...)
	if !strings.Contains(out.stdout, "checkpoint") {
		t.Errorf("reseal --from printed %q, want the audit log's checkpoint", out.stdout)
	}
	got := actions(t, vigil(t, s.args("check", "--json")...).stdout)
	if want := []string{"updated b"}; !slices.Equal(got, want) {
		t.Errorf("after reseal --from, check reported %q, want %q (only the change made after the review)", got, want)
	}
	mustRun(t, 0, s.args("verify")...)
	// The baseline moved on: the report no longer applies.
	mustRun(t, exitUsage, s.args("reseal", "--from", report, "--key", s.key, "--reason", "again")...)
}

// TestResealEntry: reseal --entry DIR accepts DIR's own change only.
func TestResealEntry(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"d/f": fimtest.File("f")})
	must(t, os.Chmod(s.path("d"), 0o700))
	must(t, os.WriteFile(s.path("d/f"), []byte("changed"), 0o644))
	mustRun(t, exitUsage, s.args("reseal", "--entry", "--key", s.key, "--reason", "r")...) // --entry needs PATHs
	mustRun(t, 0, s.args("reseal", "--entry", s.path("d"), "--key", s.key, "--reason", "mode of d")...)
	got := actions(t, vigil(t, s.args("check", "--json")...).stdout)
	if want := []string{"updated f"}; !slices.Equal(got, want) {
		t.Errorf("after reseal --entry d, check reported %q, want %q", got, want)
	}
}

// TestResealTwoStep: the key stays in another directory, used by sign
// alone; between the two steps the new baseline is not sealed, and
// nothing is built on it.
func TestResealTwoStep(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"f": fimtest.File("f"), "g": fimtest.File("g")})
	offHost := filepath.Join(t.TempDir(), "off-host")
	must(t, os.Mkdir(offHost, 0o700))
	key := filepath.Join(offHost, "vigil.key")
	must(t, os.Rename(s.key, key))
	must(t, os.WriteFile(s.path("f"), []byte("planned"), 0o644))
	stmt := filepath.Join(t.TempDir(), "statement")

	mustRun(t, exitUsage, s.args("reseal", "--statement-out", stmt)...)                                // no reason
	mustRun(t, exitUsage, s.args("reseal", "--statement-out", stmt, "--key", key, "--reason", "r")...) // both
	out := mustRun(t, 0, s.args("reseal", "--statement-out", stmt, "--reason", "planned change of f")...)
	if !strings.Contains(out.stdout, "written unsigned") || !strings.Contains(out.stdout, stmt) {
		t.Errorf("reseal --statement-out printed %q, want the unsigned baseline and %s", out.stdout, stmt)
	}
	raw, err := os.ReadFile(stmt)
	if err != nil || !strings.Contains(string(raw), "command reseal\n") || !strings.Contains(string(raw), `reason "planned change of f"`) {
		t.Fatalf("statement = %q, %v; want a reseal's statement with its reason", raw, err)
	}

	// Between the steps: not sealed, said in words; nothing accepted on top.
	check := mustRun(t, exitTampered, s.args("check")...)
	if !strings.Contains(check.stderr, "not signed") || strings.Contains(check.stderr, "root hash") {
		t.Errorf("check between the steps said %q, want 'not signed' and not the tamper wording", check.stderr)
	}
	must(t, os.WriteFile(s.path("g"), []byte("unplanned"), 0o644))
	mustRun(t, exitTampered, s.args("update")...)
	mustRun(t, exitTampered, s.args("reseal", "--key", key, "--reason", "on top")...)
	mustRun(t, exitTampered, s.args("reseal", "--statement-out", stmt+"2", "--reason", "on top")...)
	if _, err := os.Lstat(stmt + "2"); err == nil {
		t.Errorf("a refused reseal --statement-out left %s", stmt+"2")
	}

	// A signature by another key does not attach.
	other := filepath.Join(t.TempDir(), "other")
	mustRun(t, 0, s.args("keygen", "--name", "intruder", "--out", other)...)
	forged := filepath.Join(t.TempDir(), "forged")
	must(t, os.WriteFile(forged, []byte(mustRun(t, 0, "sign", "--key", filepath.Join(other, "vigil.key"), stmt).stdout), 0o644))
	mustRun(t, exitTampered, s.args("reseal", "--signature", forged)...)
	mustRun(t, exitTampered, s.args("check")...)

	// Signed where the key is (no configuration, no database), attached.
	signed := filepath.Join(t.TempDir(), "signed")
	must(t, os.WriteFile(signed, []byte(mustRun(t, 0, "sign", "--key", key, stmt).stdout), 0o644))
	mustRun(t, exitUsage, s.args("reseal", "--signature", signed, "--reason", "r")...)
	out = mustRun(t, 0, s.args("reseal", "--signature", signed)...)
	if !strings.Contains(out.stdout, "attached") || !strings.Contains(out.stdout, "checkpoint") {
		t.Errorf("reseal --signature printed %q, want the signature attached and the checkpoint", out.stdout)
	}
	got := actions(t, vigil(t, s.args("check", "--json")...).stdout)
	if want := []string{"updated g"}; !slices.Equal(got, want) {
		t.Errorf("after the two-step reseal, check reported %q, want %q (f accepted, g not)", got, want)
	}
	mustRun(t, 0, s.args("verify")...)
	want := []string{"init", "seal", "reseal", "signature"}
	if got := auditTypes(t, s); !slices.Equal(got, want) {
		t.Errorf("audit log = %q, want %q", got, want)
	}
}

// TestResealStatementRefused: a reseal --statement-out that cannot leave
// a verifiable trace, or would overwrite a file, writes nothing.
func TestResealStatementRefused(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"f": fimtest.File("f")})
	stmt := filepath.Join(t.TempDir(), "statement")
	mustRun(t, 0, s.args("reseal", "--statement-out", stmt, "--reason", "nothing changed")...)
	if _, err := os.Lstat(stmt); err == nil {
		t.Errorf("a reseal --statement-out that wrote no baseline left %s", stmt)
	}
	must(t, os.WriteFile(s.path("f"), []byte("g"), 0o644))
	must(t, os.WriteFile(stmt, []byte("mine"), 0o644))
	mustRun(t, exitUsage, s.args("reseal", "--statement-out", stmt, "--reason", "r")...)
	if raw, _ := os.ReadFile(stmt); string(raw) != "mine" {
		t.Errorf("reseal --statement-out over an existing file changed it to %q", raw)
	}
	must(t, os.Remove(stmt))

	// The key unpinned: an unsigned baseline would pass for the current one.
	cfg, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, []byte(strings.Replace(string(cfg), "pubkey = ", "# pubkey = ", 1)), 0o644))
	out := mustRun(t, exitUsage, s.args("reseal", "--statement-out", stmt, "--reason", "r")...)
	if !strings.Contains(out.stderr, "pinned") {
		t.Errorf("reseal --statement-out without a pinned key said %q, want it to ask for one", out.stderr)
	}
	if _, err := os.Lstat(stmt); err == nil {
		t.Errorf("the refused reseal left %s", stmt)
	}
	if n := strings.Count(mustRun(t, 0, s.args("log", "--json")...).stdout, "\n"); n != 2 {
		t.Errorf("after the refused reseals, log lists %d baselines, want 2 (init, seal)", n)
	}
}

// TestCheckUnknownPath: a PATH neither recorded nor on disk is a bad
// argument, naming it; a recorded one that is gone is a deletion.
func TestCheckUnknownPath(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"etc/ssh/sshd_config": fimtest.File("x"), "etc/hosts": fimtest.File("h")})
	mustRun(t, 0, s.args("init")...)
	typo := s.path("etc/sshh")
	for _, cmd := range []string{"check", "update"} {
		out := mustRun(t, exitUsage, s.args(cmd, typo)...)
		if !strings.Contains(out.stderr, typo) || !strings.Contains(out.stderr, "not in the baseline and not on disk") {
			t.Errorf("%s %s said %q, want the path named, not in the baseline and not on disk", cmd, typo, out.stderr)
		}
		mustRun(t, exitUsage, s.args(cmd, s.path("etc/hosts/x"))...) // below a file
	}
	must(t, os.Remove(s.path("etc/hosts")))
	mustRun(t, exitRemoved, s.args("check", s.path("etc/hosts"))...)
	must(t, os.WriteFile(s.path("etc/new"), []byte("n"), 0o644))
	mustRun(t, exitAdded, s.args("check", s.path("etc/new"))...)
	mustRun(t, 0, s.args("update", s.path("etc/hosts"))...)
	mustRun(t, exitUsage, s.args("check", s.path("etc/hosts"))...) // accepted as gone: now unknown
}

// TestSealWording: in the hardened phase, an unsigned or foreign-signed
// baseline says so in words, not as a hash mismatch, and exits 8.
func TestSealWording(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"f": fimtest.File("f")})
	other := filepath.Join(t.TempDir(), "other")
	mustRun(t, 0, s.args("keygen", "--name", "intruder", "--out", other)...)
	mustRun(t, 0, s.args("seal", "--key", filepath.Join(other, "vigil.key"))...)
	for _, cmd := range []string{"check", "verify"} {
		out := mustRun(t, exitTampered, s.args(cmd)...)
		if !strings.Contains(out.stderr, `baseline 3: signed by "intruder", not by the pinned key`) || strings.Contains(out.stderr, "root hash") {
			t.Errorf("%s of a baseline signed by another key said %q, want 'baseline 3: signed by \"intruder\", not by the pinned key'", cmd, out.stderr)
		}
	}
	editInfo(t, s.db, func(in map[string]any) { delete(in, "signature"); delete(in, "signed_by") })
	out := mustRun(t, exitTampered, s.args("check")...)
	if !strings.Contains(out.stderr, "baseline 3: not signed") || strings.Contains(out.stderr, "root hash") {
		t.Errorf("check of an unsigned baseline said %q, want 'baseline 3: not signed', not the tamper wording", out.stderr)
	}
}

// TestResealPendingUnpinned: a reseal waiting for its signature never
// counts as sealed, not even once the key is unpinned.
func TestResealPendingUnpinned(t *testing.T) {
	t.Parallel()
	s := sealed(t, fimtest.Tree{"f": fimtest.File("f")})
	must(t, os.WriteFile(s.path("f"), []byte("planned"), 0o644))
	mustRun(t, 0, s.args("reseal", "--statement-out", filepath.Join(t.TempDir(), "stmt"), "--reason", "r")...)
	cfg, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, []byte(strings.Replace(string(cfg), "pubkey = ", "# pubkey = ", 1)), 0o644))
	out := mustRun(t, exitTampered, s.args("check", "--json")...)
	if !strings.Contains(out.stdout, `"hardened_unsealed"`) {
		t.Errorf("check of a pending reseal with the key unpinned printed %q, want the critical finding hardened_unsealed", out.stdout)
	}
}
