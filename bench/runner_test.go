package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"testing"
)

// tinyTree generates a small corpus for end-to-end runs.
func tinyTree(t *testing.T, n int) Corpus {
	t.Helper()
	c, err := Generate(t.Context(), filepath.Join(t.TempDir(), "corpus"), n, 1)
	if err != nil {
		t.Fatalf("Generate(%d) = %v", n, err)
	}
	return c
}

func TestRunFindAndB3sum(t *testing.T) {
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Skip("b3sum is not installed (apt-get install b3sum): skipping the end-to-end run")
	}
	c := tinyTree(t, 300)
	tools, err := Tools([]string{Find, B3sum}, Binaries{})
	if err != nil {
		t.Fatalf("Tools() = %v", err)
	}
	var events []Event
	opts := Options{Rounds: 2, Progress: func(e Event) { events = append(events, e) }}
	res, err := Run(t.Context(), t.TempDir(), []Corpus{c}, tools, opts)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if len(events) != 6 || events[0].Round != 0 || events[5].Round != 2 || events[5].Tool != B3sum {
		t.Errorf("Run() progress events = %+v, want 6: warm-up and 2 rounds of find, b3sum", events)
	}
	if len(res.Corpora) != 1 || len(res.Corpora[0].Tools) != 2 {
		t.Fatalf("Run() = %+v, want one corpus with two tools", res)
	}
	for i, tr := range res.Corpora[0].Tools {
		if tr.Name != tools[i].Name || len(tr.Samples) != 2 || tr.Median <= 0 || tr.PeakRSS <= 0 {
			t.Errorf("tool %d = %+v, want %s with 2 samples, positive median and peak RSS", i, tr, tools[i].Name)
		}
	}
	if res.Rounds != 2 || res.Host.CPUs < 1 || res.Started.IsZero() {
		t.Errorf("Run() header = rounds %d, host %+v, started %v; want 2 rounds, a host, a start time", res.Rounds, res.Host, res.Started)
	}
}

// scriptTool returns a tool that runs a shell script on the corpus root.
func scriptTool(name, script string, setup func(context.Context) error) Tool {
	return Tool{Name: name, Prepare: func(_ context.Context, c Corpus, _ string) (*Command, error) {
		return &Command{Argv: []string{"sh", "-c", script, name, c.Root}, Setup: setup}, nil
	}}
}

func TestRunFailures(t *testing.T) {
	c := tinyTree(t, 10)
	errSetup := errors.New("setup broke")
	// Killed in the timed round, not in the warm-up, which may run under GNU
	// time and then exit with 128+9.
	killSecond := fmt.Sprintf("[ -e %[1]s ] && kill -9 $$; touch %[1]s", filepath.Join(t.TempDir(), "ran"))
	tests := []struct {
		name       string
		tools      []Tool
		wantErr    error
		wantStatus int // of a *RunError; 0 if none is expected
	}{
		{"failing tool", []Tool{scriptTool("ok", "true", nil), scriptTool("bad", "echo oops >&2; exit 3", nil)}, ErrExitStatus, 3},
		{"killed tool", []Tool{scriptTool("killed", killSecond, nil)}, ErrExitStatus, -1},
		{"failing setup", []Tool{scriptTool("ok", "true", func(context.Context) error { return errSetup })}, errSetup, 0},
		{"no tools", nil, ErrNothingToRun, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t.Context(), t.TempDir(), []Corpus{c}, tt.tools, Options{Rounds: 1})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run() = %v, want %v", err, tt.wantErr)
			}
			var re *RunError
			if tt.wantStatus == 0 {
				return
			}
			if !errors.As(err, &re) {
				t.Fatalf("Run() = %v (%T), want a *RunError", err, err)
			}
			last := tt.tools[len(tt.tools)-1].Name
			if re.Status != tt.wantStatus || re.Tool != last || re.Corpus != c.Name {
				t.Errorf("Run() = %+v, want status %d from %s on %s", re, tt.wantStatus, last, c.Name)
			}
		})
	}
}

func TestRunStderrInError(t *testing.T) {
	c := tinyTree(t, 10)
	tools := []Tool{scriptTool("bad", "echo first line >&2; echo the reason >&2; exit 1", nil)}
	_, err := Run(t.Context(), t.TempDir(), []Corpus{c}, tools, Options{Rounds: 1})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("Run() = %v, want a *RunError", err)
	}
	if want := "first line the reason"; re.Stderr != want {
		t.Errorf("RunError.Stderr = %q, want %q", re.Stderr, want)
	}
}

func TestToolsUnknown(t *testing.T) {
	_, err := Tools([]string{Find, "tripwire", FloorTool}, Binaries{})
	if !errors.Is(err, ErrUnknownTool) || !errors.Is(err, ErrNoFloor) {
		t.Errorf("Tools(find, tripwire, floor) = %v, want both %v and %v", err, ErrUnknownTool, ErrNoFloor)
	}
	tools, err := Tools(ToolNames(), Binaries{Floor: []string{"vigil-bench", "floor"}})
	if err != nil || len(tools) != len(ToolNames()) {
		t.Errorf("Tools(ToolNames()) = %d tools, %v; want %d, nil", len(tools), err, len(ToolNames()))
	}
}

func TestRunRefusesUsedDirectory(t *testing.T) {
	c := tinyTree(t, 5)
	tools := []Tool{scriptTool("ok", "true", nil)}
	dir := t.TempDir()
	if _, err := Run(t.Context(), dir, []Corpus{c}, tools, Options{Rounds: 1}); err != nil {
		t.Fatalf("first Run() = %v", err)
	}
	if _, err := Run(t.Context(), dir, []Corpus{c}, tools, Options{Rounds: 1}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Run() in the same directory = %v, want %v", err, fs.ErrExist)
	}
}
