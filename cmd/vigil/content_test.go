package main

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/store"
)

// contentSetup is a tree with kept configuration files, under a
// configuration that keeps /etc's content as the default one does.
func contentSetup(t *testing.T) setup {
	t.Helper()
	s := newSetup(t, fimtest.Tree{
		"etc/ssh/sshd_config": fimtest.File("Port 22\nPermitRootLogin no\nPasswordAuthentication no\nUsePAM yes\n"),
		"etc/app.conf":        fimtest.File("user = app\ndb_password = hunter2\n"),
		"etc/shadow":          fimtest.File("root:$6$salt$oldhash:19000:0:99999:7:::\n").Mode(0o644),
		"etc/blob.dat":        fimtest.File("\x7fELF\x00\x01\x02 text after\n"),
		"etc/motd":            fimtest.File("hello\n"),
		"etc/private.conf":    fimtest.File("token_file = /run/x\nmode = a\n").Mode(0o600),
	})
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("[[rule]]\npaths = [\"" + s.root + "/etc/**\"]\ndiff = true\n"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, s.args("init")...)
	return s
}

// changeContent edits the kept files: sshd_config and the password of
// app.conf change, shadow and the binary blob are rewritten.
func changeContent(t *testing.T, s setup) {
	t.Helper()
	for rel, text := range map[string]string{
		"etc/ssh/sshd_config": "Port 22\nPermitRootLogin yes\nPasswordAuthentication no\nUsePAM yes\n",
		"etc/app.conf":        "user = app\ndb_password = s3cret-new\n",
		"etc/shadow":          "root:$6$salt$newhash:19001:0:99999:7:::\n",
		"etc/blob.dat":        "\x7fELF\x00\x01\x03 other text\n",
		"etc/private.conf":    "token_file = /run/x\nmode = b\n",
	} {
		must(t, os.WriteFile(s.path(rel), []byte(text), 0o644))
	}
}

// diffEvents returns check --json's change events by path.
func diffEvents(t *testing.T, stdout string) map[string]alerts.Event {
	t.Helper()
	evs := map[string]alerts.Event{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if ev.File != nil {
			evs[ev.File.Path] = ev
		}
	}
	return evs
}

func TestContentDiffCheck(t *testing.T) {
	t.Parallel()
	s := contentSetup(t)
	changeContent(t, s)

	out := mustRun(t, exitChanged, s.args("check", "--verbose")...)
	for _, want := range []string{
		"-PermitRootLogin no\n    +PermitRootLogin yes\n",
		"@@ -1,4 +1,4 @@",
		"-db_password = ****\n    +db_password = ****\n",
		"(no diff: secret: never kept)",
		"(no diff: binary)",
	} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("check --verbose lacks %q:\n%s", want, out.stdout)
		}
	}
	for _, secret := range []string{"hunter2", "s3cret-new", "newhash", "oldhash"} {
		if strings.Contains(out.stdout+out.stderr, secret) {
			t.Errorf("check --verbose shows %q:\n%s", secret, out.stdout)
		}
	}
	if plain := mustRun(t, exitChanged, s.args("check")...); strings.Contains(plain.stdout, "PermitRootLogin") {
		t.Errorf("check without --verbose shows the diff:\n%s", plain.stdout)
	}

	js := mustRun(t, exitChanged, s.args("check", "--json")...)
	evs := diffEvents(t, js.stdout)
	sshd := evs[s.path("etc/ssh/sshd_config")]
	if sshd.Vigil == nil || sshd.Vigil.Diff == nil || !strings.Contains(sshd.Vigil.Diff.Unified, "+PermitRootLogin yes\n") ||
		sshd.Vigil.Diff.Added != 1 || sshd.Vigil.Diff.Removed != 1 || sshd.Vigil.Diff.Truncated {
		t.Errorf("sshd_config event: vigil = %+v, want vigil.diff with +PermitRootLogin yes, 1 line added and removed", sshd.Vigil)
	}
	if len(sshd.Vigil.Security) == 0 {
		t.Errorf("sshd_config event has no vigil.security beside its diff")
	}
	if app := evs[s.path("etc/app.conf")]; app.Vigil == nil || app.Vigil.Diff == nil || app.Vigil.Diff.Masked != 2 {
		t.Errorf("app.conf event: vigil = %+v, want a diff with 2 masked lines", app.Vigil)
	}
	if strings.Contains(js.stdout, "hunter2") || strings.Contains(js.stdout, "s3cret-new") {
		t.Errorf("check --json shows a password:\n%s", js.stdout)
	}
	for rel, why := range map[string]string{"etc/shadow": "secret: never kept", "etc/blob.dat": "binary", "etc/private.conf": "not world-readable (diff_private = false)"} {
		if ev := evs[s.path(rel)]; ev.Vigil == nil || ev.Vigil.Diff == nil || ev.Vigil.Diff.NotKept != why || ev.Vigil.Diff.Unified != "" {
			t.Errorf("%s event: vigil.diff = %+v, want not_kept %q and no diff", rel, ev.Vigil, why)
		}
	}
	if motd := evs[s.path("etc/motd")]; motd.File != nil {
		t.Errorf("unchanged motd reported: %+v", motd)
	}
}

// TestContentKeptUpdateCompact: update shows the diff and keeps the new
// content; shadow and binary files are never in the database; compact
// releases the content no kept baseline refers to.
func TestContentKeptUpdateCompact(t *testing.T) {
	t.Parallel()
	s := contentSetup(t)
	// recorded returns the content hash the current baseline records for
	// rel; kept whether the database holds the content with hash h.
	recorded := func(rel string) merkle.Hash {
		t.Helper()
		db, err := store.Open(s.db, store.Options{ReadOnly: true})
		must(t, err)
		defer db.Close()
		cur, err := db.Current()
		must(t, err)
		e, err := cur.Lookup(s.path(rel))
		must(t, err)
		return e.Hash
	}
	kept := func(h merkle.Hash) bool {
		t.Helper()
		db, err := store.Open(s.db, store.Options{ReadOnly: true})
		must(t, err)
		defer db.Close()
		ok, err := db.HasContent(h)
		must(t, err)
		return ok
	}
	sshdOld, motd := recorded("etc/ssh/sshd_config"), recorded("etc/motd")
	if !kept(sshdOld) || !kept(motd) {
		t.Fatalf("init kept neither sshd_config's nor motd's content")
	}
	for _, rel := range []string{"etc/shadow", "etc/blob.dat"} {
		if kept(recorded(rel)) {
			t.Errorf("init kept the content of %s", rel)
		}
	}
	changeContent(t, s)
	out := mustRun(t, 0, s.args("update", "--reason", "test")...)
	if !strings.Contains(out.stdout, "+PermitRootLogin yes") || strings.Contains(out.stdout, "s3cret-new") {
		t.Errorf("update shows no diff of sshd_config, or a password:\n%s", out.stdout)
	}
	sshdNew := recorded("etc/ssh/sshd_config")
	if !kept(sshdNew) {
		t.Errorf("update did not keep the new content of sshd_config")
	}
	if kept(recorded("etc/shadow")) {
		t.Errorf("update kept the new content of shadow")
	}
	// diff of the two baselines: both sides from the database.
	if out := mustRun(t, exitChanged, s.args("diff", "--verbose")...); !strings.Contains(out.stdout, "-PermitRootLogin no\n    +PermitRootLogin yes\n") ||
		!strings.Contains(out.stdout, "(no diff: secret: never kept)") || strings.Contains(out.stdout, "s3cret-new") {
		t.Errorf("diff --verbose of the two baselines lacks the sshd_config diff or the shadow note, or shows a password:\n%s", out.stdout)
	}
	// The first baseline is kept (keep 5): its content stays.
	mustRun(t, 0, s.args("compact")...)
	if !kept(sshdOld) {
		t.Fatalf("compact released the content of a kept baseline")
	}
	// Once a new init replaces the history (keep 1), the old content goes.
	text, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, append([]byte("keep = 1\n"), text...), 0o644))
	mustRun(t, 0, s.args("init", "--force")...)
	mustRun(t, 0, s.args("compact")...)
	if kept(sshdOld) {
		t.Errorf("compact kept content no baseline refers to")
	}
	if !kept(sshdNew) {
		t.Errorf("compact released the content of the current baseline")
	}
}

// TestContentAccounts: with /etc/passwd and /etc/group kept, check --json
// names the accounts added, the uid turned 0 and the new wheel member.
func TestContentAccounts(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{
		"etc/passwd": fimtest.File("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"),
		"etc/group":  fimtest.File("root:x:0:\nwheel:x:10:alice\n"),
	})
	text, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, append(text, "[[rule]]\npaths = [\""+s.root+"/etc/**\"]\ndiff = true\n"...), 0o644))
	mustRun(t, 0, s.args("init")...)
	must(t, os.WriteFile(s.path("etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(s.path("etc/group"), []byte("root:x:0:\nwheel:x:10:alice,mallory\n"), 0o644))
	evs := diffEvents(t, mustRun(t, exitChanged, s.args("check", "--json")...).stdout)
	pw := evs[s.path("etc/passwd")].Vigil
	if pw == nil || pw.Accounts == nil || !slices.Equal(pw.Accounts.Added, []string{"toor"}) || !slices.Equal(pw.Accounts.UID0Added, []string{"toor"}) {
		t.Errorf("passwd: vigil = %+v, want accounts added and uid0_added [toor]", pw)
	}
	if pw != nil && !slices.Contains(pw.Security, "uid0_account") {
		t.Errorf("passwd: vigil.security = %q, want uid0_account", pw.Security)
	}
	gr := evs[s.path("etc/group")].Vigil
	if gr == nil || gr.Accounts == nil || !slices.Equal(gr.Accounts.PrivilegedAdded["wheel"], []string{"mallory"}) {
		t.Errorf("group: vigil = %+v, want privileged_added wheel [mallory]", gr)
	}
}
