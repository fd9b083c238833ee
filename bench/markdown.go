package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteMarkdown writes r as a markdown report: a header saying how the run
// was made, then per corpus a table of tools (median, min and max wall time,
// median CPU time, files per second, peak RSS, database bytes per file), a
// table of ratios
// against their targets and the commands that were timed.
func WriteMarkdown(w io.Writer, r *Results) error {
	var b strings.Builder
	b.WriteString("# vigil comparison\n\n")
	cache := "warm page cache"
	if r.Cold {
		cache = "page cache dropped before every timed run"
	}
	fmt.Fprintf(&b, "Started %s on %s %s with %d CPUs; %d timed rounds per corpus after one warm-up, tools interleaved; %s.\n",
		r.Started.UTC().Format(time.RFC3339), r.Host.OS, r.Host.Kernel, r.Host.CPUs, r.Rounds, cache)
	b.WriteString("Times are wall-clock seconds of the timed rounds; CPU is the median user plus system time. ")
	if r.GNUTime != "" {
		b.WriteString("Peak RSS is that of the largest single process of the tool, " +
			"measured in the warm-up run under GNU time.\n")
	} else {
		fmt.Fprintf(&b, "Peak RSS is the largest ru_maxrss of the timed rounds (of the largest single process "+
			"of the tool); without GNU time it cannot fall below the runner's own, %.1f MiB.\n", float64(r.RunnerRSS)/1024)
	}
	for _, c := range r.Corpora {
		writeCorpus(&b, c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCorpus(b *strings.Builder, c CorpusResult) {
	fmt.Fprintf(b, "\n## %s\n\n%d files, %d entries, %s", c.Corpus.Name, c.Corpus.Files, c.Corpus.Entries, mib(c.Corpus.Bytes))
	if c.Corpus.Generated {
		fmt.Fprintf(b, "; generated with seed %d.\n\n", c.Corpus.Seed)
	} else {
		fmt.Fprintf(b, "; a copy of %s.\n\n", c.Corpus.Source)
	}
	b.WriteString("| tool | median s | min s | max s | CPU s | files/s | peak RSS MiB | db bytes/file |\n")
	b.WriteString("|:-----|---------:|------:|------:|------:|--------:|-------------:|--------------:|\n")
	for _, t := range c.Tools {
		rate, perFile := "–", "–"
		if t.Median > 0 {
			rate = fmt.Sprintf("%.0f", float64(c.Corpus.Files)/t.Median.Seconds())
		}
		if t.DBBytes > 0 && c.Corpus.Files > 0 {
			perFile = fmt.Sprintf("%.1f", float64(t.DBBytes)/float64(c.Corpus.Files))
		}
		fmt.Fprintf(b, "| %s | %.3f | %.3f | %.3f | %.3f | %s | %.1f | %s |\n", t.Name, t.Median.Seconds(),
			t.Min.Seconds(), t.Max.Seconds(), t.CPU.Seconds(), rate, float64(t.PeakRSS)/1024, perFile)
	}
	if len(c.Ratios) > 0 {
		b.WriteString("\n| comparison | ratio of medians | value | target | met |\n")
		b.WriteString("|:-----------|:-----------------|------:|-------:|:---:|\n")
		for _, r := range c.Ratios {
			target, met := targetCells(r)
			fmt.Fprintf(b, "| %s | %s / %s | %.2f | %s | %s |\n", r.Label, r.Num, r.Den, r.Value, target, met)
		}
	}
	b.WriteString("\nCommands:\n\n")
	for _, t := range c.Tools {
		fmt.Fprintf(b, "- %s: `%s`\n", t.Name, shellJoin(t.Argv))
	}
}

// targetCells returns the target and met cells of a ratio row.
func targetCells(r Ratio) (target, met string) {
	if r.Target == 0 {
		return "–", "–"
	}
	op := "≥"
	if r.AtMost {
		op = "≤"
	}
	met = "no"
	if r.Met {
		met = "yes"
	}
	return fmt.Sprintf("%s %g", op, r.Target), met
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// shellJoin quotes the arguments that a shell would split or expand.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.,:=+@%-") == "" {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
