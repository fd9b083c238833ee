package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// defaultRounds is the number of timed rounds when [Options.Rounds] is 0.
const defaultRounds = 5

// Options tune a [Run]. The zero value runs 5 warm-cache rounds quietly.
type Options struct {
	// Rounds is the number of timed rounds after the warm-up; 0 means 5.
	Rounds int
	// Cold drops the page cache (sync, then 3 into
	// /proc/sys/vm/drop_caches) after the setup and before every timed run.
	// It needs root.
	Cold bool
	// GNUTime is the GNU time binary that measures peak RSS in the warm-up
	// runs; it must work. Empty means "time" from $PATH if it works, else
	// none: peak RSS then comes from the rusage of the timed runs and cannot
	// fall below the runner's own peak RSS ([Results.RunnerRSS]).
	GNUTime string
	// Progress, if not nil, is called after every run, warm-up included,
	// from the goroutine that called Run.
	Progress func(Event)
}

// Event reports one finished run to [Options.Progress].
type Event struct {
	Corpus string
	Tool   string
	Round  int // 0 for the warm-up, then 1 to Rounds
	Rounds int
	// Sample is the run. The warm-up runs under GNU time when there is one:
	// its Wall includes that of GNU time and its MaxRSS is the tool's own.
	Sample Sample
}

// prepared is a tool made ready for one corpus.
type prepared struct {
	name string
	cmd  *Command
	log  string // the tool's standard error
	rss  string // where GNU time writes the peak RSS
}

// Run benchmarks every tool on every corpus, one corpus after the other:
// per corpus it prepares each tool in a new directory dir/CORPUS/TOOL (an
// existing one is an error: it may hold a stale baseline), runs
// each once as a warm-up, then runs the timed rounds, each tool once per
// round in the order given. The first failure stops the run; the results of
// the corpora finished before it are returned with the error, which is a
// [*RunError] when a tool failed.
func Run(ctx context.Context, dir string, corpora []Corpus, tools []Tool, opts Options) (*Results, error) {
	if len(corpora) == 0 || len(tools) == 0 {
		return nil, ErrNothingToRun
	}
	if opts.Cold && os.Geteuid() != 0 {
		return nil, ErrNeedRoot
	}
	if opts.Rounds <= 0 {
		opts.Rounds = defaultRounds
	}
	gnuTime, err := findGNUTime(ctx, opts.GNUTime, dir)
	if err != nil {
		return nil, err
	}
	opts.GNUTime = gnuTime
	res := &Results{Started: time.Now().UTC(), Host: thisHost(), Rounds: opts.Rounds, Cold: opts.Cold, GNUTime: gnuTime}
	defer func() { res.RunnerRSS = selfMaxRSS() }()
	for _, c := range corpora {
		cr, err := runCorpus(ctx, filepath.Join(dir, c.Name), c, tools, opts)
		if err != nil {
			return res, err
		}
		res.Corpora = append(res.Corpora, cr)
	}
	return res, nil
}

func runCorpus(ctx context.Context, dir string, c Corpus, tools []Tool, opts Options) (CorpusResult, error) {
	ps, err := prepare(ctx, dir, c, tools)
	if err != nil {
		return CorpusResult{}, err
	}
	samples := make([][]Sample, len(ps))
	warmRSS := make([]int64, len(ps))
	for round := 0; round <= opts.Rounds; round++ {
		for i, p := range ps {
			s, err := runOnce(ctx, p, round, opts)
			if err != nil {
				return CorpusResult{}, named(err, p.name, c.Name)
			}
			if round == 0 {
				warmRSS[i] = s.MaxRSS
			}
			if opts.Progress != nil {
				opts.Progress(Event{Corpus: c.Name, Tool: p.name, Round: round, Rounds: opts.Rounds, Sample: s})
			}
			if round > 0 {
				samples[i] = append(samples[i], s)
			}
		}
	}
	return collect(c, ps, samples, warmRSS, opts.GNUTime != "")
}

// collect summarizes the runs of every tool on corpus c. With warm set, peak
// RSS is that of the warm-up runs.
func collect(c Corpus, ps []prepared, samples [][]Sample, warmRSS []int64, warm bool) (CorpusResult, error) {
	cr := CorpusResult{Corpus: c}
	for i, p := range ps {
		t := summarize(p.name, p.cmd.Argv, samples[i])
		if warm {
			t.PeakRSS = warmRSS[i]
		}
		if p.cmd.Database != "" {
			info, err := os.Stat(p.cmd.Database)
			if err != nil {
				return CorpusResult{}, fmt.Errorf("%s on %s: %w", p.name, c.Name, err)
			}
			t.DBBytes = info.Size()
		}
		cr.Tools = append(cr.Tools, t)
	}
	cr.Ratios = Ratios(cr.Tools, Comparisons())
	return cr, nil
}

// prepare makes a new directory per tool below dir and prepares each tool
// in it.
func prepare(ctx context.Context, dir string, c Corpus, tools []Tool) ([]prepared, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ps := make([]prepared, 0, len(tools))
	for _, t := range tools {
		tdir := filepath.Join(dir, t.Name)
		if err := os.Mkdir(tdir, 0o755); err != nil {
			return nil, err
		}
		cmd, err := t.Prepare(ctx, c, tdir)
		if err != nil {
			return nil, fmt.Errorf("prepare %s on %s: %w", t.Name, c.Name, err)
		}
		ps = append(ps, prepared{name: t.Name, cmd: cmd,
			log: filepath.Join(tdir, "stderr.log"), rss: filepath.Join(tdir, "warm-up.rss")})
	}
	return ps, nil
}

// runOnce runs the setup of p untimed and then p itself: in round 0 under
// GNU time if there is one, later after dropping the page cache if
// opts.Cold.
func runOnce(ctx context.Context, p prepared, round int, opts Options) (Sample, error) {
	if p.cmd.Setup != nil {
		if err := p.cmd.Setup(ctx); err != nil {
			return Sample{}, fmt.Errorf("setup: %w", err)
		}
	}
	if opts.Cold && round > 0 {
		if err := dropCaches(); err != nil {
			return Sample{}, err
		}
	}
	accept := p.cmd.Accept
	if accept == nil {
		accept = acceptZero
	}
	if round > 0 || opts.GNUTime == "" {
		return measure(ctx, p.cmd.Argv, p.log, accept)
	}
	s, err := measure(ctx, timeArgv(opts.GNUTime, p.rss, p.cmd.Argv), p.log, accept)
	if err != nil {
		return s, err
	}
	s.MaxRSS, err = readRSS(p.rss)
	return s, err
}

// named puts the tool and corpus names into a failed run's error.
func named(err error, tool, corpus string) error {
	if re, ok := err.(*RunError); ok {
		re.Tool, re.Corpus = tool, corpus
		return re
	}
	return fmt.Errorf("%s on %s: %w", tool, corpus, err)
}

// dropCaches writes dirty pages back and empties the page, dentry and inode
// caches.
func dropCaches() error {
	unix.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}
