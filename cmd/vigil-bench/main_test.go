package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/bench"
)

// asMain, set in the environment, makes the test binary act as vigil-bench:
// the floor tool runs os.Executable(), which in a test is the test binary.
const asMain = "VIGIL_BENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if err := os.Setenv(asMain, "1"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no corpus", nil, exitUsage},
		{"zero rounds", []string{"-files", "10", "-rounds", "0"}, exitUsage},
		{"bad count", []string{"-files", "10,ten"}, exitUsage},
		{"negative count", []string{"-files", "-5"}, exitUsage},
		{"unknown tool", []string{"-files", "10", "-tools", "find,tripwire"}, exitUsage},
		{"unknown flag", []string{"-fast"}, exitUsage},
		{"extra argument", []string{"-files", "10", "extra"}, exitUsage},
		{"help", []string{"-h"}, exitOK},
		{"floor without root", []string{"floor"}, exitUsage},
		{"floor with two roots", []string{"floor", "/a", "/b"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if got := run(t.Context(), tt.args, &stdout, &stderr); got != tt.want {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, got, tt.want, stderr.String())
			}
			if tt.want == exitUsage && stderr.Len() == 0 {
				t.Errorf("run(%q) wrote nothing to stderr, want the problem", tt.args)
			}
		})
	}
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts(" 100, 20,100,,3")
	if err != nil || fmt.Sprint(got) != "[100 20 3]" {
		t.Errorf("parseCounts() = %v, %v; want [100 20 3], nil", got, err)
	}
}

func TestFloor(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	c, err := bench.Generate(t.Context(), root, 120, 1)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if got := run(t.Context(), []string{"floor", "-workers", "3", root}, &stdout, &stderr); got != exitOK {
		t.Fatalf("run(floor %s) = %d, want %d; stderr:\n%s", root, got, exitOK, stderr.String())
	}
	want := fmt.Sprintf("files %d dirs ", c.Files)
	if !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("run(floor) printed %q, want it to start with %q", stdout.String(), want)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if got := run(t.Context(), []string{"floor", missing}, &stdout, &stderr); got != exitFailure {
		t.Errorf("run(floor %s) = %d, want %d", missing, got, exitFailure)
	}
}

func TestCompare(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			work, out := t.TempDir(), filepath.Join(t.TempDir(), "results")
			args := []string{"-files", "40,80", "-tools", "find,floor", "-rounds", "1", "-out", out, "-work", work}
			if keep {
				args = append(args, "-keep")
			}
			var stdout, stderr strings.Builder
			if got := run(t.Context(), args, &stdout, &stderr); got != exitOK {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", args, got, exitOK, stderr.String())
			}
			if !strings.Contains(stdout.String(), "## files-80") {
				t.Errorf("run(%q) stdout =\n%s\nwant the markdown report", args, stdout.String())
			}
			data, err := os.ReadFile(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			var res bench.Results
			if err := json.Unmarshal(data, &res); err != nil || len(res.Corpora) != 2 || len(res.Corpora[1].Tools) != 2 {
				t.Errorf("results.json = %+v, %v; want 2 corpora with 2 tools", res, err)
			}
			for _, f := range []string{"results.md", "chart.svg"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("output %s: %v", f, err)
				}
			}
			left, err := os.ReadDir(work)
			if err != nil || (len(left) == 1) != keep {
				t.Errorf("with keep %v, %d entries left in -work, %v; want %d", keep, len(left), err, map[bool]int{true: 1}[keep])
			}
		})
	}
}

func TestCompareMissingExplicitTool(t *testing.T) {
	args := []string{"-files", "10", "-tools", "vigil-init", "-vigil", filepath.Join(t.TempDir(), "no-vigil"), "-work", t.TempDir()}
	var stdout, stderr strings.Builder
	if got := run(t.Context(), args, &stdout, &stderr); got != exitFailure {
		t.Errorf("run(%q) = %d, want %d; stderr:\n%s", args, got, exitFailure, stderr.String())
	}
	if !strings.Contains(stderr.String(), "vigil-init") {
		t.Errorf("stderr = %q, want it to name vigil-init", stderr.String())
	}
}

func TestCompareFailingTool(t *testing.T) {
	// A stand-in vigil whose check reports a change on the unchanged tree.
	dir := t.TempDir()
	vigil := filepath.Join(dir, "vigil")
	script := "#!/bin/sh\ncase \"$4\" in init) db=$(sed -n 's/^database = \"\\(.*\\)\"$/\\1/p' \"$2\"); : >\"$db\" ;; *) exit 4 ;; esac\n"
	if err := os.WriteFile(vigil, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-files", "10", "-tools", "vigil-check", "-vigil", vigil, "-rounds", "1", "-work", t.TempDir()}
	var stdout, stderr strings.Builder
	if got := run(t.Context(), args, &stdout, &stderr); got != exitFailure {
		t.Errorf("run(%q) = %d, want %d; stderr:\n%s", args, got, exitFailure, stderr.String())
	}
	if !strings.Contains(stderr.String(), "differences reported on an unchanged tree") {
		t.Errorf("stderr = %q, want it to say the check saw differences", stderr.String())
	}
}
