package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixedResults is a small, hand-made result set for the writers.
func fixedResults() *Results {
	cmps := Comparisons()
	return &Results{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Host:    Host{OS: "linux", Kernel: "6.1.0", CPUs: 2},
		Rounds:  3,
		GNUTime: "/usr/bin/time",
		Corpora: []CorpusResult{
			{
				Corpus: Corpus{Name: "files-1000", Root: "/w/files-1000", Generated: true, Seed: 1, Files: 1000, Entries: 1031, Bytes: 2 << 20},
				Tools: []ToolResult{
					{Name: AideInit, Argv: []string{"aide", "--config", "/w/aide.conf", "--init"},
						Median: 2 * time.Second, Min: 1900 * time.Millisecond, Max: 2100 * time.Millisecond, CPU: 3500 * time.Millisecond, PeakRSS: 10240, DBBytes: 150000},
					{Name: VigilInit, Argv: []string{"vigil", "init"},
						Median: 250 * time.Millisecond, Min: 240 * time.Millisecond, Max: 260 * time.Millisecond, CPU: 400 * time.Millisecond, PeakRSS: 20480, DBBytes: 64000},
					{Name: Find, Argv: []string{"find", "/w/files-1000", "-printf", `%s %T@ %i\n`},
						Median: 10 * time.Millisecond, Min: 9 * time.Millisecond, Max: 12 * time.Millisecond, CPU: 8 * time.Millisecond, PeakRSS: 2048},
				},
				Ratios: []Ratio{{cmps[0], 8, true}},
			},
			{
				Corpus: Corpus{Name: "copy-usr", Root: "/w/copy-usr", Source: "/usr", Files: 5, Entries: 6, Bytes: 1 << 20},
				Tools:  []ToolResult{{Name: Find, Argv: []string{"find"}, Median: time.Millisecond, Min: time.Millisecond, Max: time.Millisecond}},
			},
		},
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := WriteMarkdown(&b, fixedResults()); err != nil {
		t.Fatalf("WriteMarkdown() = %v, want nil", err)
	}
	want := `# vigil comparison

Started 2026-01-02T03:04:05Z on linux 6.1.0 with 2 CPUs; 3 timed rounds per corpus after one warm-up, tools interleaved; warm page cache.
Times are wall-clock seconds of the timed rounds; CPU is the median user plus system time. Peak RSS is that of the largest single process of the tool, measured in the warm-up run under GNU time.

## files-1000

1000 files, 1031 entries, 2.0 MiB; generated with seed 1.

| tool | median s | min s | max s | CPU s | files/s | peak RSS MiB | db bytes/file |
|:-----|---------:|------:|------:|------:|--------:|-------------:|--------------:|
| aide-init | 2.000 | 1.900 | 2.100 | 3.500 | 500 | 10.0 | 150.0 |
| vigil-init | 0.250 | 0.240 | 0.260 | 0.400 | 4000 | 20.0 | 64.0 |
| find | 0.010 | 0.009 | 0.012 | 0.008 | 100000 | 2.0 | – |

| comparison | ratio of medians | value | target | met |
|:-----------|:-----------------|------:|-------:|:---:|
| vigil init speed-up over aide --init | aide-init / vigil-init | 8.00 | ≥ 8 | yes |

Commands:

- aide-init: ` + "`aide --config /w/aide.conf --init`" + `
- vigil-init: ` + "`vigil init`" + `
- find: ` + "`find /w/files-1000 -printf '%s %T@ %i\\n'`" + `

## copy-usr

5 files, 6 entries, 1.0 MiB; a copy of /usr.

| tool | median s | min s | max s | CPU s | files/s | peak RSS MiB | db bytes/file |
|:-----|---------:|------:|------:|------:|--------:|-------------:|--------------:|
| find | 0.001 | 0.001 | 0.001 | 0.000 | 5000 | 0.0 | – |

Commands:

- find: ` + "`find`" + `
`
	if diff := cmp.Diff(b.String(), want); diff != "" {
		t.Errorf("WriteMarkdown() (-got +want):\n%s", diff)
	}
}

func TestWriteMarkdownWithoutGNUTime(t *testing.T) {
	r := fixedResults()
	r.GNUTime, r.RunnerRSS = "", 6400
	var b strings.Builder
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatalf("WriteMarkdown() = %v, want nil", err)
	}
	want := "without GNU time it cannot fall below the runner's own, 6.2 MiB.\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("WriteMarkdown() without GNU time =\n%s\nwant it to contain %q", b.String(), want)
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"aide", "--config", "/a/b.conf"}, "aide --config /a/b.conf"},
		{"space and dollar", []string{"bash", "-c", `find "$1"`}, `bash -c 'find "$1"'`},
		{"single quote", []string{"it's"}, `'it'\''s'`},
		{"empty", []string{""}, "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shellJoin(tt.argv); got != tt.want {
				t.Errorf("shellJoin(%q) = %s, want %s", tt.argv, got, tt.want)
			}
		})
	}
}
