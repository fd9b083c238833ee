package main

import (
	"context"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"vigil/internal/progress"
	"vigil/scanner"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useColor says whether to colour output to w.
func useColor(w io.Writer) bool {
	_, no := os.LookupEnv("NO_COLOR")
	return !no && isTerminal(w)
}

// startProgress shows scan progress on stderr when it is a terminal and
// --quiet was not given; the returned function stops it.
func (e *env) startProgress(ctx context.Context, st *scanner.Stats) func() {
	if e.quiet || !isTerminal(e.stderr) {
		return func() {}
	}
	load := func() progress.Snapshot {
		return progress.Snapshot{Files: st.Entries.Load(), Hashed: st.Hashed.Load(), Bytes: st.Bytes.Load(), Errors: st.Errors.Load()}
	}
	return progress.Start(ctx, e.stderr, load, 250*time.Millisecond)
}
