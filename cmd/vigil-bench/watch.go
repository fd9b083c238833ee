package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"vigil/bench"
)

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil-bench watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	samples := fs.Int("samples", 200, "write-to-alert latency samples")
	burst := fs.Int("burst", 100_000, "files changed at once")
	vigil := fs.String("vigil", "", "vigil binary (default: go build ./cmd/vigil into the work directory)")
	work := fs.String("work", "/var/tmp", "make the work directory below DIR")
	if err := fs.Parse(args); err != nil {
		return usageCode(err, stderr)
	}
	dir, err := os.MkdirTemp(*work, "vigil-bench-watch-")
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	bin := *vigil
	if bin == "" {
		r := &resolver{work: dir}
		if bin, err = r.vigil(ctx); err != nil {
			fmt.Fprintf(stderr, "vigil-bench: %v\n", err)
			return exitFailure
		}
	}
	res, err := bench.Watch(ctx, bench.WatchOptions{Vigil: bin, Dir: dir, Samples: *samples, Burst: *burst})
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench: watch: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(stdout, "| write-to-alert latency, %d samples (settle 100 ms) | p50 %v, p99 %v, max %v |\n", res.Samples, res.P50, res.P99, res.Max)
	fmt.Fprintf(stdout, "| burst: files rewritten | %d (written in %v) |\n", res.Burst, res.Written)
	fmt.Fprintf(stdout, "| burst: paths reported | %d of %d |\n", res.Reported, res.Burst)
	fmt.Fprintf(stdout, "| burst: time to quiescence (first write to last path reported) | %v |\n", res.Quiescence)
	fmt.Fprintf(stdout, "| burst: events_lost catch-ups | %d |\n", res.Overflows)
	fmt.Fprintf(stdout, "| daemon peak RSS | %.1f MiB |\n", float64(res.PeakRSS)/1024)
	return exitOK
}
