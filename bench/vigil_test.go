package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

// standIn writes a shell script that plays vigil: it logs its arguments,
// writes the database named in the config and the checkpoint kept beside it
// on init, refuses (8, as vigil does) an init under a kept checkpoint whose
// database is gone, and exits with checkStatus on check (20 when there is no
// database).
func standIn(t *testing.T, checkStatus int) (script, argLog string) {
	t.Helper()
	dir := t.TempDir()
	script, argLog = filepath.Join(dir, "vigil"), filepath.Join(dir, "args.log")
	body := fmt.Sprintf(`#!/bin/sh
echo "$*" >>%s
db=$(sed -n 's/^database = "\(.*\)"$/\1/p' "$2")
case "$4" in
init) [ -f "$db.checkpoint" ] && [ ! -f "$db" ] && exit 8
      echo baseline >"$db"; echo checkpoint >"$db.checkpoint" ;;
check) [ -f "$db" ] || exit 20; exit %d ;;
*) exit 15 ;;
esac
`, argLog, checkStatus)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, argLog
}

func TestRunVigilStandIn(t *testing.T) {
	vigil, argLog := standIn(t, 0)
	c := tinyTree(t, 20)
	tools, err := Tools([]string{VigilInit, VigilCheck, VigilCheckFull}, Binaries{Vigil: vigil})
	if err != nil {
		t.Fatalf("Tools() = %v", err)
	}
	work := t.TempDir()
	res, err := Run(t.Context(), work, []Corpus{c}, tools, Options{Rounds: 1})
	if err != nil {
		t.Fatalf("Run(vigil stand-in) = %v", err)
	}
	cfg := func(tool string) string { return filepath.Join(work, c.Name, tool, "vigil.toml") }
	data, err := os.ReadFile(argLog)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--config " + cfg(VigilInit) + " --quiet init --force",  // warm-up
		"--config " + cfg(VigilCheck) + " --quiet init --force", // setup: no baseline yet
		"--config " + cfg(VigilCheck) + " --quiet check",
		"--config " + cfg(VigilCheckFull) + " --quiet init --force",
		"--config " + cfg(VigilCheckFull) + " --quiet check --full",
		"--config " + cfg(VigilInit) + " --quiet init --force", // round 1
		"--config " + cfg(VigilCheck) + " --quiet check",
		"--config " + cfg(VigilCheckFull) + " --quiet check --full",
	}
	if diff := cmp.Diff(strings.Split(strings.TrimSpace(string(data)), "\n"), want); diff != "" {
		t.Errorf("vigil invocations (-got +want):\n%s", diff)
	}
	var conf vigilConfig
	if _, err := toml.DecodeFile(cfg(VigilInit), &conf); err != nil {
		t.Fatalf("decoding %s: %v", cfg(VigilInit), err)
	}
	wantConf := vigilConfig{Database: filepath.Join(work, c.Name, VigilInit, "vigil.db"), Roots: []string{c.Root}}
	if diff := cmp.Diff(conf, wantConf); diff != "" {
		t.Errorf("vigil config (-got +want):\n%s", diff)
	}
	if got := res.Corpora[0].Tools[0].DBBytes; got != int64(len("baseline\n")) {
		t.Errorf("vigil-init DBBytes = %d, want %d", got, len("baseline\n"))
	}
}

func TestRunVigilCheckStatus(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{1, ErrDifferences},
		{4, ErrDifferences},
		{7, ErrDifferences},
		{14, ErrExitStatus},
	}
	c := tinyTree(t, 5)
	for _, tt := range tests {
		t.Run(fmt.Sprint("exit ", tt.status), func(t *testing.T) {
			vigil, _ := standIn(t, tt.status)
			tools, err := Tools([]string{VigilCheck}, Binaries{Vigil: vigil})
			if err != nil {
				t.Fatalf("Tools() = %v", err)
			}
			_, err = Run(t.Context(), t.TempDir(), []Corpus{c}, tools, Options{Rounds: 1})
			var re *RunError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Status != tt.status {
				t.Errorf("Run(check exits %d) = %v, want a *RunError with status %d matching %v", tt.status, err, tt.status, tt.want)
			}
		})
	}
}
