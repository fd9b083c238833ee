package main

import (
	"context"

	"vigil/internal/engine"
)

const updateUsage = `vigil update [--json] [--full] [PATH...]

Accept the current state as the new baseline: of the baseline's roots, or
only of the subtrees at PATHs (the rest of the baseline is carried over).
A change of the configured roots takes a new baseline: init --force. The changes
accepted are reported as by check. Nothing is written when nothing changed;
a baseline that fails its integrity check is not updated (exit 8).

  --json   one ECS event per line (NDJSON), then a summary event
  --full   reread and rehash every file, from the disk (not the page cache)
`

func runUpdate(ctx context.Context, e *env, args []string) int {
	return e.compare(ctx, "update", args, engine.Update)
}

// logWritten says what Init or Update wrote.
func logWritten(e *env, res engine.Result) {
	if !res.Written {
		e.log.Info().Msg("nothing changed; baseline kept")
		return
	}
	in := res.Baseline
	e.log.Info().Uint64("baseline", in.ID).Int64("entries", in.Counts.Entries).
		Str("root", in.Root.String()).Msg("baseline written")
}
