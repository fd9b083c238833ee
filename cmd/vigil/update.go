package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"

	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/merkle"
	"vigil/store"
)

const updateAbout = `Accept the current state as the new baseline: of the baseline's roots, or
only of the subtrees at PATHs (the rest of the baseline is carried over).
A change of the configured roots takes a new baseline: init --force. The
changes accepted are reported as by check. Nothing is written when nothing
changed; a baseline that fails its integrity check is not updated (exit 8).

To accept exactly what was reviewed: --entry accepts the changes of the
entries named by PATHs and nothing below them; --from REPORT accepts only the
changes listed in a saved 'vigil check --json' report, and refuses (exit 15,
nothing written) when the baseline is no longer the one the report was made
against or a listed entry is no longer in the state the report shows.
Changes not accepted stay pending: the next check reports them again.
--reason, the uid and the login name are logged with the new baseline.`

func runUpdate(ctx context.Context, e *env, inv *invocation) int {
	return e.compare(ctx, inv, (*engine.Engine).Update)
}

// acceptOptions sets o.Accept from --entry and --from.
func (e *env) acceptOptions(db *store.DB, inv *invocation, o engine.Request) (engine.Request, error) {
	entry, from := inv.bool("entry"), inv.str("from")
	switch {
	case entry && from != "":
		return o, &usageError{msg: "--entry and --from exclude each other", cmd: inv.cmd}
	case entry && len(o.Paths) == 0:
		return o, &usageError{msg: "--entry needs the PATHs of the entries to accept", cmd: inv.cmd}
	case entry:
		o.Accept = acceptEntries(o.Paths)
	case from != "":
		cur, err := db.Current()
		if err != nil {
			return o, err
		}
		r, err := readSaved(from)
		if err != nil {
			return o, err
		}
		if r.Summary.OldRoot != cur.Info().Root.String() {
			return o, fmt.Errorf("%s was made against baseline root %.16s, the current one is %.16s: %w", from, r.Summary.OldRoot, cur.Info().Root.String(), report.ErrStale)
		}
		if len(o.Paths) == 0 {
			o.Paths = r.Summary.Scope
		}
		o.Accept = func(c merkle.Change) (bool, error) {
			ok, err := r.Accept(c)
			if err != nil {
				err = fmt.Errorf("%s: %w", from, err)
			}
			return ok, err
		}
		e.afterUpdate = func() {
			if missing := r.Unmatched(); len(missing) > 0 {
				e.log.Warn().Int("changes", len(missing)).Str("first", quote(missing[0])).Str("report", quote(from)).
					Msg("changes listed in the report are no longer pending; the baseline keeps what was recorded for them")
			}
		}
	}
	if o.Accept != nil {
		o.Accept = e.countTurnedDown(o.Accept)
	}
	return o, nil
}

// countTurnedDown wraps accept so that the changes it turns down are
// counted, and said once the update is done.
func (e *env) countTurnedDown(accept func(merkle.Change) (bool, error)) func(merkle.Change) (bool, error) {
	n := 0
	after := e.afterUpdate
	e.afterUpdate = func() {
		if after != nil {
			after()
		}
		if n > 0 {
			e.log.Warn().Int("pending", n).Msg("changes not reviewed were not accepted: the next check reports them")
		}
	}
	return func(c merkle.Change) (bool, error) {
		ok, err := accept(c)
		if !ok && err == nil {
			n++
		}
		return ok, err
	}
}

// readSaved reads the saved 'check --json' report at path.
func readSaved(path string) (*report.Saved, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := report.ReadSaved(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// acceptEntries accepts the changes of exactly the entries at paths, and
// the deletions below a deleted one (a directory cannot go while what it
// held stays).
func acceptEntries(paths []string) func(merkle.Change) (bool, error) {
	var gone []string
	return func(c merkle.Change) (bool, error) {
		if slices.Contains(paths, c.Path) {
			if c.Action == merkle.Deleted {
				gone = append(gone, c.Path)
			}
			return true, nil
		}
		for _, g := range gone {
			if c.Action == merkle.Deleted && merkle.Within(c.Path, g) {
				return true, nil
			}
		}
		return false, nil
	}
}

// who names the user running vigil: uid, login name, and the user sudo
// was run by.
func who() string {
	uid := os.Geteuid()
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	if su := os.Getenv("SUDO_USER"); su != "" {
		s += " via sudo by " + su
	}
	return s
}

// logAccepted says what Init or Update wrote, with why and by whom.
func (e *env) logAccepted(res engine.Result, o engine.Request) {
	if !res.Written {
		e.log.Info().Msg("nothing changed; baseline kept")
		return
	}
	in := res.Baseline
	ev := e.log.Info().Uint64("baseline", in.ID).Int64("entries", in.Counts.Entries).
		Str("root", in.Root.String()).Str("user", o.User)
	if o.Reason != "" {
		ev = ev.Str("reason", o.Reason)
	}
	ev.Msg("baseline written")
}
