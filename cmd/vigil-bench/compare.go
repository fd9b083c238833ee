package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"vigil/bench"
)

// runCompare prepares the corpora, runs the tools and writes the report.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return usageCode(err, stderr)
	}
	if err := os.MkdirAll(cfg.work, 0o755); err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	work, err := os.MkdirTemp(cfg.work, "vigil-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	code := compare(ctx, cfg, work, stdout, stderr)
	if cfg.keep {
		fmt.Fprintf(stderr, "vigil-bench: kept the work directory %s\n", work)
	} else if err := os.RemoveAll(work); err != nil {
		fmt.Fprintf(stderr, "vigil-bench: removing the work directory: %v\n", err)
		code = max(code, exitFailure)
	}
	return code
}

// compare does the work of runCompare inside the work directory.
func compare(ctx context.Context, cfg config, work string, stdout, stderr io.Writer) int {
	tools, err := selectTools(ctx, cfg, work, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	corpora, err := prepareCorpora(ctx, cfg, filepath.Join(work, "corpus"), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	opts := bench.Options{Rounds: cfg.rounds, Cold: cfg.cold, Progress: progress(stderr)}
	res, runErr := bench.Run(ctx, filepath.Join(work, "run"), corpora, tools, opts)
	code := exitOK
	if runErr != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", runErr)
		code = exitFailure
	}
	if res == nil || len(res.Corpora) == 0 {
		return code
	}
	if err := writeResults(res, cfg.out, stdout); err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		code = exitFailure
	}
	return code
}

// prepareCorpora copies the -corpus directory and generates the -files
// trees below dir.
func prepareCorpora(ctx context.Context, cfg config, dir string, stderr io.Writer) ([]bench.Corpus, error) {
	var cs []bench.Corpus
	if cfg.corpus != "" {
		fmt.Fprintf(stderr, "copying %s\n", cfg.corpus)
		c, err := bench.Copy(ctx, cfg.corpus, filepath.Join(dir, "copy"))
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	for _, n := range cfg.files {
		fmt.Fprintf(stderr, "generating %d files\n", n)
		c, err := bench.Generate(ctx, filepath.Join(dir, "files-"+strconv.Itoa(n)), n, cfg.seed)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// progress returns a function that prints one line per run: wall and CPU
// time, and for the warm-up, which may run under GNU time, peak RSS.
func progress(w io.Writer) func(bench.Event) {
	return func(e bench.Event) {
		round, rss := "warm-up", fmt.Sprintf("  peak RSS %.1f MiB", float64(e.Sample.MaxRSS)/1024)
		if e.Round > 0 {
			round, rss = fmt.Sprintf("round %d/%d", e.Round, e.Rounds), ""
		}
		fmt.Fprintf(w, "%-14s %-11s %-17s wall %8.3fs  cpu %8.3fs%s\n", e.Corpus, round, e.Tool,
			e.Sample.Wall.Seconds(), (e.Sample.User + e.Sample.Sys).Seconds(), rss)
	}
}
