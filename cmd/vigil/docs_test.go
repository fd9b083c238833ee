package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated man page and completions")

// TestGeneratedFiles: the committed man page and completions are what the
// command line's description generates ('make docs' rewrites them).
func TestGeneratedFiles(t *testing.T) {
	for rel, gen := range generated {
		path := filepath.Join("..", "..", rel)
		want := gen()
		if *updateDocs {
			must(t, os.MkdirAll(filepath.Dir(path), 0o755))
			must(t, os.WriteFile(path, []byte(want), 0o644))
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run 'make docs')", rel, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s differs from what cmd/vigil/cli.go generates: run 'make docs' and commit the result", rel)
		}
	}
}

// TestREADMEMatchesHelp: the README's command table and exit codes say
// what the command line's description says.
func TestREADMEMatchesHelp(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	must(t, err)
	readme := string(data)
	_, codes, ok := strings.Cut(readme, "### Exit codes")
	if !ok {
		t.Fatal("README has no \"### Exit codes\" section")
	}
	codes, _, _ = strings.Cut(codes, "\n### ")
	var documented []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(codes, -1) {
		n, _ := strconv.Atoi(m[1])
		documented = append(documented, n)
	}
	var want []int
	for _, x := range exitCodes {
		want = append(want, x.code)
	}
	if !slices.Equal(documented, want) {
		t.Errorf("README's exit code table lists %v, help lists %v", documented, want)
	}
	_, table, _ := strings.Cut(readme, "## Commands")
	table, _, _ = strings.Cut(table, "### Exit codes")
	for _, c := range commands {
		if !strings.Contains(table, "`"+c.name) {
			t.Errorf("README's command table has no row for %s", c.name)
		}
		for _, f := range c.flags {
			if !strings.Contains(table, "--"+f.name) {
				t.Errorf("README does not mention %s --%s", c.name, f.name)
			}
		}
	}
}

// TestCompletionCommand: vigil completion SHELL prints the committed
// scripts.
func TestCompletionCommand(t *testing.T) {
	t.Parallel()
	for shell, gen := range map[string]func() string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion} {
		if out := mustRun(t, 0, "completion", shell); out.stdout != gen() {
			t.Errorf("vigil completion %s printed something else than the generated script", shell)
		}
	}
	mustRun(t, exitUsage, "completion", "tcsh")
}
