//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"vigil/internal/fimtest"
)

// noFile fails the test if path exists.
func noFile(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %s exists (lstat: %v), want nothing created", what, path, err)
	}
}

// TestInitMissingPath: a PATH on init's command line that does not exist is
// an error (it used to give a two-entry baseline and clean checks forever),
// and nothing is written or created.
func TestInitMissingPath(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	typo := filepath.Join(s.root, "mistyped", "path")
	out := mustRun(t, exitUsage, s.args("init", "--force", typo)...)
	if !strings.Contains(out.stderr, typo) {
		t.Errorf("init --force %s said %q, want the path named", typo, out.stderr)
	}
	st := mustRun(t, 0, s.args("status", "--json")...)
	if !strings.Contains(st.stdout, `"id": 1,`) || strings.Contains(st.stdout, `"id": 2,`) {
		t.Errorf("after a refused init --force, status --json is\n%s\nwant baseline 1 only", st.stdout)
	}
	db := filepath.Join(t.TempDir(), "new", "vigil.db")
	mustRun(t, exitUsage, "--db", db, "--config", s.config, "init", typo)
	noFile(t, "init of a missing PATH", filepath.Dir(db))
}

// TestInitAllRootsMissing: a configuration none of whose roots exists is
// refused (exit 17) without creating the database; a missing root among
// present ones is a warning.
func TestInitAllRootsMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "vigil.toml")
	db := filepath.Join(dir, "db", "vigil.db")
	must(t, os.WriteFile(conf, fmt.Appendf(nil, "database = %q\nroots = [%q, %q]\n", db, dir+"/no1", dir+"/no2"), 0o644))
	out := mustRun(t, exitConfig, "--config", conf, "init")
	if !strings.Contains(out.stderr, "none of the 2 roots") {
		t.Errorf("init with every root missing said %q, want it to say none of the roots exists", out.stderr)
	}
	noFile(t, "init with every root missing", filepath.Dir(db))

	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	text, err := os.ReadFile(s.config)
	must(t, err)
	gone := filepath.Join(dir, "gone")
	must(t, os.WriteFile(s.config, []byte(strings.Replace(string(text), "roots = [", fmt.Sprintf("roots = [%q, ", gone), 1)), 0o644))
	out = mustRun(t, 0, "--config", s.config, "init")
	if !strings.Contains(out.stderr, "WRN") || !strings.Contains(out.stderr, gone) {
		t.Errorf("init with one root missing logged %q, want a warning naming %s", out.stderr, gone)
	}
}

// TestRefusedCommandsCreateNothing: a refused command leaves no directory
// and no database behind, and database messages name the database.
func TestRefusedCommandsCreateNothing(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	inside := filepath.Join(s.root, "vigil", "vigil.db")
	out := mustRun(t, exitConfig, "--config", s.config, "--db", inside, "init")
	if !strings.Contains(out.stderr, inside) {
		t.Errorf("init with the database inside a root said %q, want the path", out.stderr)
	}
	noFile(t, "init with the database inside a root", filepath.Dir(inside))

	typo := filepath.Join(t.TempDir(), "typo", "vigil.db")
	for _, cmd := range []string{"update", "check", "status", "verify"} {
		out := mustRun(t, exitDatabase, "--config", s.config, "--db", typo, cmd)
		if !strings.Contains(out.stderr, typo) || !strings.Contains(out.stderr, "no baseline") {
			t.Errorf("%s with no database said %q, want \"no baseline\" and the path", cmd, out.stderr)
		}
		noFile(t, cmd+" with no database", filepath.Dir(typo))
	}
	// An empty database (an interrupted first init, say) is "no
	// baseline" too, and says which file.
	empty := filepath.Join(t.TempDir(), "vigil.db")
	mustRun(t, 0, "--config", s.config, "--db", empty, "init")
	must(t, os.Remove(empty))
	mustRun(t, exitDatabase, "--config", s.config, "--db", empty, "update")
	noFile(t, "update after the database was removed", empty)
}

// TestMovedDatabaseNoConfigWarning: moving the database (or changing keep)
// does not change the configuration digest, and a warning about a changed
// configuration never advises "vigil update", which would accept every
// pending change on the host.
func TestMovedDatabaseNoConfigWarning(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	moved := filepath.Join(t.TempDir(), "moved.db")
	data, err := os.ReadFile(s.db)
	must(t, err)
	must(t, os.WriteFile(moved, data, 0o600))
	// The kept checkpoint moves with it (else: checkpoint_missing).
	cp, err := os.ReadFile(s.db + ".checkpoint")
	must(t, err)
	must(t, os.WriteFile(moved+".checkpoint", cp, 0o644))
	text, err := os.ReadFile(s.config)
	must(t, err)
	must(t, os.WriteFile(s.config, append([]byte("keep = 3\n"), text...), 0o644))
	out := mustRun(t, 0, "--config", s.config, "--db", moved, "check")
	if strings.Contains(out.stderr, "configuration") {
		t.Errorf("check with the database moved and keep changed warned %q, want no configuration warning", out.stderr)
	}
	out = mustRun(t, 0, "--config", s.config, "--db", moved, "update")
	if strings.Contains(out.stderr, "baseline written") {
		t.Errorf("update with no file changed wrote a baseline: %q", out.stderr)
	}
	// A change that does matter warns, without advising an update, and
	// is a finding: exit 4, config_changed in the summary.
	must(t, os.WriteFile(s.config, append([]byte("exclude = [\"/nowhere\"]\n"), text...), 0o644))
	if _, sum := decodeEvents(t, mustRun(t, exitChanged, "--config", s.config, "--db", moved, "check", "--json").stdout); !sum.ConfigChanged {
		t.Errorf("check --json under a changed exclude: summary %+v, want config_changed", sum)
	}
	out = mustRun(t, exitChanged, "--config", s.config, "--db", moved, "check")
	if !strings.Contains(out.stderr, "configuration") || strings.Contains(out.stderr, "vigil update") {
		t.Errorf("check under a changed exclude warned %q, want a warning that does not advise 'vigil update'", out.stderr)
	}
}

// TestQuietUnchanged: check --quiet of an unchanged host prints nothing at
// all (a cron job mails any output); with a change it prints the change.
func TestQuietUnchanged(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	out := mustRun(t, 0, "check", "--quiet", "--config", s.config)
	if out.stdout != "" || out.stderr != "" {
		t.Errorf("check --quiet of an unchanged host printed %q and %q, want nothing", out.stdout, out.stderr)
	}
	must(t, os.WriteFile(s.path("f"), []byte("changed"), 0o644))
	out = mustRun(t, exitChanged, "check", "--quiet", "--config", s.config)
	if !strings.Contains(out.stdout, s.path("f")) {
		t.Errorf("check --quiet of a change printed %q, want the change", out.stdout)
	}
}

// TestFlags: --help and --version anywhere, COMMAND --help, global flags
// after the command, unknown flags answered with the usage line.
func TestFlags(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"--quiet", "--help"}} {
		if out := mustRun(t, 0, args...); !strings.Contains(out.stdout, "Commands:") {
			t.Errorf("vigil %q printed %q, want the overview", args, out.stdout)
		}
	}
	for _, args := range [][]string{{"check", "--help"}, {"check", "-h"}, {"help", "check"}, {"--help", "check"}, {"check", "/etc", "--help"}} {
		if out := mustRun(t, 0, args...); !strings.Contains(out.stdout, "usage: vigil check") || !strings.Contains(out.stdout, "Attribute columns") {
			t.Errorf("vigil %q printed %q, want check's help with the column legend", args, out.stdout)
		}
	}
	for _, c := range commands {
		if out := mustRun(t, 0, c.name, "--help"); !strings.HasPrefix(out.stdout, "usage: vigil "+c.name) {
			t.Errorf("vigil %s --help printed %q, want its usage", c.name, out.stdout)
		}
	}
	// After "--" a name is a PATH, even one that looks like a flag.
	if out := mustRun(t, exitUsage, s.args("check", "--", "--help")...); !strings.Contains(out.stderr, "outside") {
		t.Errorf("check -- --help said %q, want --help taken as a PATH (outside the roots)", out.stderr)
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"check", "--version"}} {
		if out := mustRun(t, 0, args...); !strings.HasPrefix(out.stdout, "vigil "+version) {
			t.Errorf("vigil %q printed %q, want the version", args, out.stdout)
		}
	}
	// Global flags after the command, in both spellings.
	mustRun(t, 0, "check", "--config", s.config, "--db", s.db, "--quiet")
	mustRun(t, 0, "check", "--config="+s.config, "-quiet")
	for _, args := range [][]string{{"check", "--frobnicate"}, {"--frobnicate", "check"}, {"check", "--db"}} {
		out := mustRun(t, exitUsage, args...)
		if !strings.Contains(out.stderr, "usage: vigil") || strings.Contains(out.stderr, "flag provided but not defined") {
			t.Errorf("vigil %q said %q, want vigil's own message and the usage line", args, out.stderr)
		}
	}
}

// TestDefaultConfigFile: without --config, the system configuration file
// is read when it exists, and status says which configuration is in use.
func TestDefaultConfigFile(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	run := func(args ...string) output {
		var stdout, stderr strings.Builder
		code := runWith(t.Context(), s.config, args, &stdout, &stderr)
		return output{code, stdout.String(), stderr.String()}
	}
	if out := run("init"); out.code != 0 || !strings.Contains(out.stdout, s.db) {
		t.Fatalf("init with %s as the system configuration exited %d, printed %q, want a baseline in %s\n%s", s.config, out.code, out.stdout, s.db, out.stderr)
	}
	if out := run("status"); out.code != 0 || !strings.Contains(out.stdout, "in use: "+s.config+", the same") {
		t.Errorf("status printed %q, want the configuration in use named", out.stdout)
	}
	if out := run("config", "check"); out.code != 0 || !strings.HasPrefix(out.stdout, s.config) {
		t.Errorf("config check printed %q, want %s", out.stdout, s.config)
	}
}

// TestJSONLogs: with --json, what vigil logs on stderr is JSON too, and the
// summary says whether the baseline failed its integrity check.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f"), "d/g": fimtest.File("g")})
	mustRun(t, 0, s.args("init")...)
	flipHashBit(t, s.db, s.path("d/g"))
	out := vigil(t, "--config", s.config, "check", "--json")
	if out.code&exitTampered == 0 {
		t.Fatalf("check --json of a tampered baseline exited %d, want 8 set", out.code)
	}
	if out.stderr == "" {
		t.Fatal("check --json of a tampered baseline logged nothing")
	}
	for line := range strings.Lines(out.stderr) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil || v["level"] == nil || v["message"] == nil {
			t.Errorf("stderr line %q is not a JSON log line (%v)", line, err)
		}
	}
	// A failure is a JSON line too.
	missing := filepath.Join(t.TempDir(), "none.db")
	fail := mustRun(t, exitDatabase, "--config", s.config, "--db", missing, "check", "--json")
	var v struct {
		Level    string `json:"level"`
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(fail.stderr), &v); err != nil || v.Level != "error" || v.ExitCode != exitDatabase || !strings.Contains(v.Message, missing) {
		t.Errorf("check --json without a database logged %q (%v), want one JSON error line naming %s with exit_code 24", fail.stderr, err, missing)
	}
	if _, sum := decodeEvents(t, out.stdout); !sum.IntegrityFailed {
		t.Errorf("summary %+v: integrity_failed false, want true", sum)
	}
	s2 := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s2.args("init")...)
	if _, sum := decodeEvents(t, mustRun(t, 0, s2.args("check", "--json")...).stdout); sum.IntegrityFailed {
		t.Errorf("summary of an intact baseline: integrity_failed true")
	}
}

// TestInitUnreadableExitCode: as a user who cannot read every file, init
// writes the baseline, reports each unreadable file once and exits 4; the
// next check reports the error, not a change of mode, size or times.
// It switches the process to nobody, so it must not run in parallel.
func TestInitUnreadableExitCode(t *testing.T) {
	fimtest.NeedRoot(t, "switching to nobody")
	s := newSetup(t, fimtest.Tree{"shadow": fimtest.File("secret"), "pub": fimtest.File("p")})
	must(t, os.Chmod(s.path("shadow"), 0o600))
	for _, d := range []string{s.root, filepath.Dir(s.root)} {
		must(t, os.Chmod(d, 0o777))
	}
	// The database's directory belongs to the user who writes it: vigil
	// refuses to write into one others could swap the file in.
	nobody, err := user.Lookup("nobody")
	must(t, err)
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	must(t, os.Chown(filepath.Dir(s.db), uid, gid))
	must(t, os.Chmod(s.config, 0o644))
	var init, check output
	asNobody(t, func() {
		init = vigil(t, "--config", s.config, "init")
		check = vigil(t, "--config", s.config, "check")
	})
	if init.code != exitIncomplete || strings.Count(init.stderr, s.path("shadow")) != 1 {
		t.Errorf("init as nobody exited %d and logged\n%s\nwant %d and %s named once", init.code, init.stderr, exitIncomplete, s.path("shadow"))
	}
	if check.code != exitChanged || strings.Count(check.stdout, s.path("shadow")) != 1 || !strings.Contains(check.stdout, "0 changed") {
		t.Errorf("check as nobody exited %d and printed\n%s\nwant 4, shadow's error once and no change", check.code, check.stdout)
	}
}

const nobody = 65534

// asNobody runs fn with effective uid and gid nobody, keeping root as the
// real and saved ids so that it can switch back.
func asNobody(t *testing.T, fn func()) {
	t.Helper()
	if err := syscall.Setresgid(-1, nobody, -1); err != nil {
		t.Fatalf("setresgid: %v", err)
	}
	if err := syscall.Setresuid(-1, nobody, -1); err != nil {
		t.Fatalf("setresuid: %v", err)
	}
	defer func() {
		if err := errors.Join(syscall.Setresuid(-1, 0, -1), syscall.Setresgid(-1, 0, -1)); err != nil {
			fmt.Fprintf(os.Stderr, "cannot switch back to root (%v); stopping the tests\n", err)
			os.Exit(3)
		}
	}()
	fn()
}

// TestVerboseSecurity: a setuid bit added to a program is shown as a
// security change, and --verbose shows the mode from and to.
func TestVerboseSecurity(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"find": fimtest.File("#!/bin/sh\n").Mode(0o755)})
	mustRun(t, 0, s.args("init")...)
	must(t, syscall.Chmod(s.path("find"), 0o4755))
	out := mustRun(t, exitChanged, s.args("check")...)
	if !strings.Contains(out.stdout, s.path("find")+" (security: setuid_added; ATT&CK T1548.001)") {
		t.Errorf("check printed\n%s\nwant find's line to end in (security: setuid_added; ATT&CK T1548.001)", out.stdout)
	}
	out = mustRun(t, exitChanged, s.args("check", "--verbose")...)
	if !strings.Contains(out.stdout, "    mode     0755 -> 4755\n") {
		t.Errorf("check --verbose printed\n%s\nwant the line \"mode 0755 -> 4755\"", out.stdout)
	}
}
