package main

import (
	"context"
	"flag"
	"fmt"
	"time"
	"vigil/internal/progress"

	"vigil/internal/engine"
	"vigil/scanner"
)

const initUsage = `vigil init [--force] [PATH...]

Take a baseline of PATHs, or of the configured roots, hashing every file, and
make it the current one. Refuses to replace an existing baseline without
--force. Paths that cannot be read are reported on stderr and recorded with
their error; the run goes on.

  --force  replace the current baseline (older ones are kept, see 'keep')
`

func runInit(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	force := fs.Bool("force", false, "replace an existing baseline")
	paths, cfg, db, err := e.prepare(fs, args, false)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	var st scanner.Stats
	stop := e.startProgress(ctx, &st)
	start := time.Now()
	res, err := engine.Init(ctx, db, engine.Options{
		Config: cfg, Paths: paths, Force: *force, Stats: &st, Host: hostname(), Version: version,
		Missing:     func(root string) { e.log.Info().Str("root", quote(root)).Msg("root does not exist here; skipped") },
		SymlinkRoot: e.warnSymlinkRoot,
		Error: func(p string, err error) error {
			stop()
			e.log.Warn().Str("path", quote(p)).Msg(err.Error())
			return nil
		},
	})
	stop()
	if err != nil {
		return e.fail(err)
	}
	in := res.Baseline
	if !e.quiet {
		fmt.Fprintf(e.stdout, "baseline %d: %d entries (%d files, %d dirs), %d errors, %s hashed in %s\nroot %s\ndatabase %s\n",
			in.ID, in.Counts.Entries, in.Counts.Files, in.Counts.Dirs, in.Counts.Errors,
			progress.IEC(st.Bytes.Load()), time.Since(start).Round(time.Millisecond), in.Root, db.Path())
	}
	return exitOK
}
