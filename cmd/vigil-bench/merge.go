package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"vigil/bench"
)

// runMerge reads the results.json of several runs (all warm or all cold)
// and writes one report and one chart of all their corpora: a long run on
// a big tree need not be repeated to draw it beside the small ones.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil-bench merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write results.md, results.json and chart.svg to `DIR`")
	if err := fs.Parse(args); err != nil {
		return usageCode(err, stderr)
	}
	if fs.NArg() == 0 {
		return usageCode(usageError{"merge needs results.json files"}, stderr)
	}
	var all *bench.Results
	for _, p := range fs.Args() {
		r, err := readResults(p)
		if err != nil {
			fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
			return exitFailure
		}
		if all == nil {
			all = r
			continue
		}
		if r.Cold != all.Cold {
			fmt.Fprintf(stderr, "vigil-bench: %s: cannot merge warm and cold runs\n", p)
			return exitFailure
		}
		all.Rounds = min(all.Rounds, r.Rounds)
		all.Corpora = append(all.Corpora, r.Corpora...)
	}
	if err := writeResults(all, *out, stdout); err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func readResults(path string) (*bench.Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r bench.Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
