package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"vigil/bench"
)

// config is the parsed command line of a comparison run.
type config struct {
	corpus   string
	files    []int
	seed     uint64
	rounds   int
	cold     bool
	tools    []string // empty: every available tool
	vigil    string
	out      string
	work     string
	keep     bool
	explicit bool // -tools was given
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var files, tools string
	fs := flag.NewFlagSet("vigil-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.corpus, "corpus", "", "copy `DIR` with cp -a and run on the copy")
	fs.StringVar(&files, "files", "", "generate trees of `N,N,...` files")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated trees")
	fs.IntVar(&c.rounds, "rounds", 5, "timed `rounds` after the warm-up")
	fs.BoolVar(&c.cold, "cold", false, "drop the page cache before every timed run (root only)")
	fs.StringVar(&tools, "tools", "", "comma-separated `list` of tools (default: every available one)")
	fs.StringVar(&c.vigil, "vigil", "", "vigil binary `path` (default: go build ./cmd/vigil)")
	fs.StringVar(&c.out, "out", "", "write results.md, results.json and chart.svg to `DIR`")
	fs.StringVar(&c.work, "work", "/var/tmp", "make the work directory below `DIR`")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	var err error
	if c.files, err = parseCounts(files); err != nil {
		return c, err
	}
	if c.tools, err = parseTools(tools); err != nil {
		return c, err
	}
	c.explicit = len(c.tools) > 0
	switch {
	case c.corpus == "" && len(c.files) == 0:
		return c, usageError{"need -corpus or -files"}
	case c.rounds < 1:
		return c, usageError{"-rounds must be at least 1"}
	case c.cold && os.Geteuid() != 0:
		return c, usageError{"-cold needs root to drop the page cache"}
	}
	return c, nil
}

// parseCounts parses "10000,100000" into distinct positive counts.
func parseCounts(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, usageError{fmt.Sprintf("-files: %q is not a positive number", f)}
		}
		if !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	return ns, nil
}

// parseTools parses a comma-separated list of known tool names.
func parseTools(s string) ([]string, error) {
	var names []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(bench.ToolNames(), f) {
			return nil, usageError{fmt.Sprintf("-tools: unknown tool %q (known: %s)", f, strings.Join(bench.ToolNames(), ", "))}
		}
		if !slices.Contains(names, f) {
			names = append(names, f)
		}
	}
	return names, nil
}
