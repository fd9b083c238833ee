// Vigil-bench runs vigil side by side with AIDE, a b3sum pipeline, find and
// a Go walk+hash floor on the same trees, and reports medians, ratios
// against vigil's targets and peak memory (see package vigil/bench).
//
// Usage:
//
//	vigil-bench [flags]
//	vigil-bench floor [-workers N] [-buffer BYTES] ROOT
//	vigil-bench merge [-out DIR] RESULTS.json...
//	vigil-bench history [-corpus DIR | -files N] [-changes 10] [-updates 20] [-old-vigil PATH] [-out DIR]
//	vigil-bench watch [-samples 200] [-burst 100000] [-vigil PATH] [-work DIR]
//
// The first form prepares the corpora in a fresh work directory, runs every
// tool once as a warm-up and then -rounds interleaved rounds per corpus,
// prints a markdown report on standard output and progress on standard
// error. The second form is the floor tool itself: it walks and hashes ROOT
// (bench.Floor) and prints what it saw. The third reads the results.json of
// earlier runs and writes one report and chart of all their corpora. The
// fourth measures what history costs: updates after a few changes (time,
// bytes written, records), the database's growth, unchanged checks against
// an older vigil, diffs of two baselines and the size of a proof. The fifth
// measures vigil watch: write-to-alert latency with the default settle
// window, and a burst of changes (every path reported, time to quiescence,
// peak RSS); see bench.Watch.
//
// Flags:
//
//	-corpus DIR     copy DIR with cp -a and run on the copy
//	-files N,N,...  generate trees of N files each (for the chart)
//	-seed S         seed of the generated trees (default 1)
//	-rounds R       timed rounds after the warm-up (default 5)
//	-cold           drop the page cache before every timed run (root only)
//	-tools LIST     comma-separated tools (default: every available one):
//	                vigil-init, vigil-check, vigil-check-full, aide-init,
//	                aide-check, b3sum, find, floor
//	-vigil PATH     vigil binary (default: go build ./cmd/vigil into the
//	                work directory)
//	-out DIR        also write DIR/results.md, results.json and chart.svg
//	-work DIR       make the work directory below DIR (default /var/tmp)
//	-keep           keep the work directory (configs, databases, logs)
//
// At least one of -corpus and -files is required. Without -tools, tools
// whose program is missing (aide, b3sum) or cannot be built (vigil) are
// skipped with a note; named explicitly, they are an error.
//
// Exit codes:
//
//	0  every run succeeded (targets may still be missed: read the report)
//	1  a tool failed, or a corpus, build or output step failed
//	2  usage error
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the subcommand that args name and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "floor" {
		return runFloor(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "watch" {
		return runWatch(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "history" {
		return runHistory(ctx, args[1:], stdout, stderr)
	}
	return runCompare(ctx, args, stdout, stderr)
}

// usageCode maps a flag parsing error to an exit code, reporting it unless
// the flag package already did.
func usageCode(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
	}
	return exitUsage
}

// usageError is a problem with the command line found after parsing.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
