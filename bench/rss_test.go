package bench

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestReadRSS(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int64
		wantErr error
	}{
		{"plain", "1552\n", 1552, nil},
		{"after a status note", "Command exited with non-zero status 3\n2772\n", 2772, nil},
		{"after a signal note", "Command terminated by signal 9\n1580", 1580, nil},
		{"no number", "Command terminated by signal 9\n", 0, ErrNoRSS},
		{"empty", "", 0, ErrNoRSS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rss")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readRSS(path)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("readRSS(%q) = %d, %v; want %d, %v", tt.content, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := readRSS(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("readRSS(missing file) = %v, want %v", err, fs.ErrNotExist)
	}
}

func TestRunWithBrokenGNUTime(t *testing.T) {
	c := tinyTree(t, 5)
	tools, err := Tools([]string{Find}, Binaries{})
	if err != nil {
		t.Fatal(err)
	}
	// `true` accepts any arguments and writes no RSS file.
	for _, bad := range []string{"true", filepath.Join(t.TempDir(), "no-such-time")} {
		_, err := Run(t.Context(), t.TempDir(), []Corpus{c}, tools, Options{Rounds: 1, GNUTime: bad})
		if err == nil {
			t.Errorf("Run(GNUTime %q) = nil error, want one", bad)
		}
	}
}

func TestRunMeasuresWarmUpRSSUnderGNUTime(t *testing.T) {
	gnuTime, err := exec.LookPath("time")
	if err != nil {
		t.Skip("GNU time is not installed (apt-get install time): skipping")
	}
	c := tinyTree(t, 5)
	tools, err := Tools([]string{Find}, Binaries{})
	if err != nil {
		t.Fatal(err)
	}
	var warm Sample
	opts := Options{Rounds: 1, GNUTime: gnuTime, Progress: func(e Event) {
		if e.Round == 0 {
			warm = e.Sample
		}
	}}
	res, err := Run(t.Context(), t.TempDir(), []Corpus{c}, tools, opts)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	got := res.Corpora[0].Tools[0].PeakRSS
	if res.GNUTime != gnuTime || got != warm.MaxRSS || got <= 0 {
		t.Errorf("Run() GNUTime %q, PeakRSS %d, warm-up MaxRSS %d; want %q and equal positive RSS", res.GNUTime, got, warm.MaxRSS, gnuTime)
	}
}
