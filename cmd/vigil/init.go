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

const initAbout = `Take a baseline of PATHs, or of the configured roots, hashing every file, and
make it the current one. Refuses to replace an existing baseline without
--force. A PATH that does not exist is an error; configured roots that do not
exist on this host are skipped with a warning, but a baseline in which none
of them exists is refused. Nothing is created on disk (no directory, no
database) unless the baseline can be taken. Paths that cannot be read are
reported on stderr once and recorded with their error and what lstat says
about them; the baseline is written and init exits 4 to say it is incomplete.`

func runInit(ctx context.Context, e *env, inv *invocation) int {
	var st scanner.Stats
	pb, err := e.prepareBaseline(inv, &st)
	if err != nil {
		return e.fail(err)
	}
	defer pb.db.Close()
	o, db := pb.o, pb.db
	o.Force = inv.bool("force")
	stop := e.startProgress(ctx, &st)
	start := time.Now()
	res, err := pb.eng.Init(ctx, db, o, &reporter{e: e, stop: stop, missing: true})
	stop()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	in := res.Baseline
	e.logAccepted(res, o)
	if _, err := e.keepCheckpoint(pb.eng, db, nil); err != nil {
		return e.fail(err)
	}
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

// prepared is what prepareBaseline returns.
type prepared struct {
	o   engine.Request
	eng *engine.Engine
	db  *store.DB
	// existing says the database holds a baseline; verdict is then the
	// trust decision on it.
	existing bool
	verdict  engine.Verdict
}

// prepareBaseline is the start of the commands that take a whole new
// baseline (init, seal): the PATHs, the configuration, the options, the
// preflight, and only then the database, created if need be: nothing is
// created before the baseline is known to be possible. A database that
// holds a baseline gets the trust decision; in the hardened phase init is
// refused (reseal accepts planned changes).
func (e *env) prepareBaseline(inv *invocation, st *scanner.Stats) (prepared, error) {
	var pb prepared
	paths, err := absPaths(inv.args)
	if err != nil {
		return pb, err
	}
	if pb.eng, err = e.engine(inv); err != nil {
		return pb, err
	}
	o := engine.Request{Paths: paths, Stats: st, Reason: inv.str("reason"), User: who(), Phase: engine.PhaseSetup}
	if _, err := pb.eng.Preflight(o); err != nil {
		return pb, err
	}
	if pb.db, err = e.openDB(pb.eng, false, true); err != nil {
		return pb, err
	}
	pb.o = o
	fail := func(err error) (prepared, error) {
		pb.db.Close()
		return prepared{}, err
	}
	if pb.existing, err = hasBaseline(pb.db); err != nil {
		return fail(dbError(pb.db.Path(), err))
	}
	// A kept checkpoint the database's log does not extend: the database
	// was removed and made anew, or put back. Nothing is written over it.
	if err := pb.eng.KeptAhead(pb.db); err != nil {
		return fail(err)
	}
	if !pb.existing {
		return pb, nil
	}
	if pb.verdict, err = pb.eng.Trust(pb.db); err != nil {
		return fail(dbError(pb.db.Path(), err))
	}
	e.logFindings(pb.verdict)
	pb.o.Phase = pb.verdict.Phase.Phase
	if inv.cmd.name == "init" && pb.verdict.Phase.Phase == engine.PhaseHardened {
		return fail(fmt.Errorf("init: %w: a new baseline would drop the sealed one; accept planned changes with 'vigil reseal --key FILE --reason TEXT', or leave the hardened phase with 'vigil phase setup --key FILE --reason TEXT'", engine.ErrPhaseRefused))
	}
	return pb, nil
}
