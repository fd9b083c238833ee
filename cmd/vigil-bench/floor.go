package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"vigil/bench"
)

// runFloor is "vigil-bench floor [-workers N] [-buffer BYTES] ROOT": the
// floor tool. It prints one line of counts and the XOR of the files' BLAKE3
// hashes, so that two walks of the same tree can be compared.
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts bench.FloorOptions
	fs := flag.NewFlagSet("vigil-bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opts.Workers, "workers", 2, "hashing `goroutines`")
	fs.IntVar(&opts.BufferSize, "buffer", 1<<20, "read buffer per worker, in `bytes`")
	if err := fs.Parse(args); err != nil {
		return usageCode(err, stderr)
	}
	if fs.NArg() != 1 {
		return usageCode(usageError{"floor: need exactly one ROOT"}, stderr)
	}
	st, err := bench.Floor(ctx, fs.Arg(0), opts)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-bench floor: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "files %d dirs %d symlinks %d other %d bytes %d digest %x\n",
		st.Files, st.Dirs, st.Symlinks, st.Other, st.Bytes, st.Digest)
	return exitOK
}
