package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"vigil/internal/engine"
	"vigil/internal/progress"
	"vigil/scanner"
	"vigil/store"
)

func runInit(ctx context.Context, e *env, inv *invocation) int {
	var st scanner.Stats
	o, db, err := e.prepareBaseline(inv, &st)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	o.Force = inv.bool("force")
	stop := e.startProgress(ctx, &st)
	o.Error = func(p string, err error) error {
		stop()
		e.log.Warn().Str("path", quote(p)).Msg(errorText(p, err))
		return nil
	}
	start := time.Now()
	res, err := engine.Init(ctx, db, o)
	stop()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	in := res.Baseline
	e.logAccepted(res, o)
	if !e.quiet {
		fmt.Fprintf(e.stdout, "baseline %d: %d entries (%d files, %d dirs), %d errors, %s hashed in %s\nroot %s\ndatabase %s\n",
			in.ID, in.Counts.Entries, in.Counts.Files, in.Counts.Dirs, in.Counts.Errors,
			progress.IEC(st.Bytes.Load()), time.Since(start).Round(time.Millisecond), in.Root, db.Path())
	}
	if res.Errors > 0 {
		e.log.Warn().Int64("errors", res.Errors).Msg("baseline written, but some paths could not be read: they are recorded with their error and cannot be verified (run vigil as root)")
		return exitIncomplete
	}
	return exitOK
}

// errorText is err's message without the path when err is a *fs.PathError
// about path, which the log line names already.
func errorText(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path && pe.Err != nil {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// prepareBaseline is the start of the commands that take a whole new
// baseline (init, seal): the PATHs, the configuration, the options, the
// preflight, and only then the database, created if need be: nothing is
// created before the baseline is known to be possible.
func (e *env) prepareBaseline(inv *invocation, st *scanner.Stats) (engine.Options, *store.DB, error) {
	paths, err := absPaths(inv.args)
	if err != nil {
		return engine.Options{}, nil, err
	}
	cfg, err := e.config()
	if err != nil {
		return engine.Options{}, nil, err
	}
	o := engine.Options{
		Config: cfg, Paths: paths, Stats: st, Host: hostname(), Version: version,
		Reason: inv.str("reason"), User: who(), Phase: engine.CurrentPhase(cfg).Phase,
		Missing:     func(root string) { e.log.Warn().Str("root", quote(root)).Msg("root does not exist here; skipped") },
		SymlinkRoot: e.warnSymlinkRoot, Warn: e.warnPath,
	}
	if _, err := engine.Preflight(o, cfg.Database); err != nil {
		return o, nil, err
	}
	db, err := e.open(cfg, false, true)
	return o, db, err
}
