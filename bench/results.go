package bench

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Results is everything one [Run] measured.
type Results struct {
	Started time.Time `json:"started"`
	Host    Host      `json:"host"`
	Rounds  int       `json:"rounds"` // timed rounds per corpus, after one warm-up
	Cold    bool      `json:"cold"`   // page cache dropped before every timed run
	// GNUTime is the GNU time binary that measured peak RSS in the warm-up
	// runs; empty if there was none.
	GNUTime string `json:"gnu_time,omitempty"`
	// RunnerRSS is the runner's own peak RSS in KiB: the least ru_maxrss a
	// child it starts can report (see [Options.GNUTime]).
	RunnerRSS int64          `json:"runner_rss_kib"`
	Corpora   []CorpusResult `json:"corpora"`
}

// Host describes the machine a run took place on.
type Host struct {
	OS     string `json:"os"`
	Kernel string `json:"kernel"`
	CPUs   int    `json:"cpus"`
}

// CorpusResult holds the results of every tool on one corpus.
type CorpusResult struct {
	Corpus Corpus       `json:"corpus"`
	Tools  []ToolResult `json:"tools"`
	Ratios []Ratio      `json:"ratios"`
}

// ToolResult holds the timed runs of one tool on one corpus.
type ToolResult struct {
	Name    string        `json:"name"`
	Argv    []string      `json:"argv"`
	Samples []Sample      `json:"samples"` // in round order
	Median  time.Duration `json:"median_ns"`
	Min     time.Duration `json:"min_ns"`
	Max     time.Duration `json:"max_ns"`
	// CPU is the median of user plus system time: less sensitive than wall
	// time to other load on the machine, blind to time spent waiting.
	CPU time.Duration `json:"cpu_median_ns"`
	// PeakRSS is the tool's peak RSS in KiB: measured in the warm-up under
	// GNU time if there was one ([Results.GNUTime]), else the largest
	// [Sample.MaxRSS] of the timed rounds.
	PeakRSS int64 `json:"peak_rss_kib"`
	// DBBytes is the size of the tool's database after the last round; 0 if
	// the tool keeps none.
	DBBytes int64 `json:"db_bytes,omitempty"`
}

// summarize computes the statistics of a tool's samples.
func summarize(name string, argv []string, samples []Sample) ToolResult {
	t := ToolResult{Name: name, Argv: argv, Samples: samples}
	walls := make([]time.Duration, len(samples))
	cpus := make([]time.Duration, len(samples))
	for i, s := range samples {
		walls[i], cpus[i] = s.Wall, s.User+s.Sys
		t.PeakRSS = max(t.PeakRSS, s.MaxRSS)
		if i == 0 || s.Wall < t.Min {
			t.Min = s.Wall
		}
		t.Max = max(t.Max, s.Wall)
	}
	t.Median, t.CPU = Median(walls), Median(cpus)
	return t
}

// thisHost describes the running machine; the kernel is empty if uname
// fails.
func thisHost() Host {
	h := Host{OS: runtime.GOOS, CPUs: runtime.NumCPU()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return h
}
