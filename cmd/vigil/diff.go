package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/internal/textdiff"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

const diffAbout = `Show the differences between two stored baselines: A (before) and B
(after), by default the previous and the current one; with only A, A and
the current one. A and B are baseline ids as 'vigil log' prints them, or
unique prefixes (four or more hex digits) of their root hashes. The output
and the exit code are check's; only subtrees whose hashes differ are read,
and every directory read is verified against the root (exit 8 if not).

With two paths (A and B start with "/" or "."), A and B are Btrfs
snapshots' top directories: two snapshots of one subvolume, B the newer (a
baseline's trusted snapshots, 'vigil status --json' lists them), or a
snapshot and the live subvolume it was taken of. The diff then searches B
for what changed since A was taken, in time that grows with the changes,
and needs no database. Paths are shown relative to the subvolume's top.`

func runDiff(ctx context.Context, e *env, inv *invocation) int {
	jsonOut := inv.bool("json")
	if len(inv.args) == 2 && isPathArg(inv.args[0]) && isPathArg(inv.args[1]) {
		return e.diffSnapshots(ctx, inv)
	}
	if len(inv.args) > 2 {
		return e.fail(&usageError{msg: "diff takes at most 2 arguments", cmd: inv.cmd})
	}
	// The same trust decision as check's: stored baselines of a database
	// that must not be trusted (a broken seal, a rollback) are not diffed.
	eng, db, verdict, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	cfg := eng.Config()
	a, b, err := diffPair(db, inv.args)
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w", db.Path(), err))
	}
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Color: !jsonOut && useColor(e.stdout), Host: hostname(), Verbose: inv.bool("verbose"), Phase: verdict.Phase.Phase})
	start := time.Now()
	res, err := engine.Diff(ctx, a, b, engine.Options{Config: cfg, Report: diffWriter{engine.Funcs{OnChange: w.Change}, w}, PostureChecks: eng.Options().PostureChecks})
	if err != nil {
		return e.fail(err)
	}
	code := diffCode(res)
	pcode, err := e.reportPosture(w, res, hostname())
	if err != nil {
		return e.fail(err)
	}
	code |= pcode
	if pcode, err = e.reportNixTree(w, res, hostname()); err != nil {
		return e.fail(err)
	}
	code |= pcode
	s := summary("diff", res, &scanner.Stats{}, time.Since(start), code)
	s.Scope = []string{fmt.Sprintf("baseline %d", a.Info().ID), fmt.Sprintf("baseline %d", b.Info().ID)}
	if err := w.Summary(s); err != nil {
		return e.fail(err)
	}
	return code
}

// diffPair resolves diff's baseline arguments.
func diffPair(db *store.DB, specs []string) (a, b *store.Baseline, err error) {
	if len(specs) == 2 {
		if b, err = db.Resolve(specs[1]); err != nil {
			return nil, nil, err
		}
	} else if b, err = db.Current(); err != nil {
		return nil, nil, err
	}
	if len(specs) > 0 {
		a, err = db.Resolve(specs[0])
		return a, b, err
	}
	all, err := db.Baselines()
	if err != nil {
		return nil, nil, err
	}
	i := slices.IndexFunc(all, func(in store.Info) bool { return in.ID == b.Info().ID })
	if i < 1 {
		return nil, nil, fmt.Errorf("baseline %d has no earlier baseline to compare with: %w", b.Info().ID, store.ErrNotFound)
	}
	a, err = db.Baseline(all[i-1].ID)
	return a, b, err
}

// logLine is one baseline as vigil log --json prints it.
type logLine struct {
	ID      uint64    `json:"id"`
	Parent  uint64    `json:"parent"`
	Created time.Time `json:"created"`
	Command string    `json:"command"`
	Root    string    `json:"root"`
	Entries int64     `json:"entries"`
	Files   int64     `json:"files"`
	Changes int64     `json:"changes"`
	Reason  string    `json:"reason,omitempty"`
	User    string    `json:"user,omitempty"`
	Current bool      `json:"current,omitempty"`
}

// isPathArg tells a path (a snapshot) from a baseline id or root prefix.
func isPathArg(s string) bool { return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") }

// diffSnapshots is diff between two Btrfs snapshots.
func (e *env) diffSnapshots(ctx context.Context, inv *invocation) int {
	paths, err := absPaths(inv.args)
	if err != nil {
		return e.fail(err)
	}
	jsonOut := inv.bool("json")
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Color: !jsonOut && useColor(e.stdout), Host: hostname(), Verbose: inv.bool("verbose")})
	start := time.Now()
	// The configuration, when there is one, says where vigil's own
	// snapshots lie (left out of the diff, as the default place always is);
	// no database is needed.
	o := engine.Options{Report: engine.Funcs{OnChange: w.Change}}
	if cfg, err := e.config(); err == nil {
		o.Config = cfg
	} else {
		e.log.Warn().Err(err).Msg("configuration not read: only the default snapshot and quarantine directories are left out")
	}
	res, err := engine.DiffSnapshots(ctx, paths[0], paths[1], o)
	if err != nil {
		if errors.Is(err, engine.ErrNotSnapshots) {
			return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
		}
		return e.fail(err)
	}
	code := diffCode(res)
	s := summary("diff", res, &scanner.Stats{}, time.Since(start), code)
	s.Scope = paths
	if err := w.Summary(s); err != nil {
		return e.fail(err)
	}
	return code
}

// diffWriter reports changes, and the diffs of kept content, to w.
type diffWriter struct {
	engine.Funcs
	w *report.Writer
}

func (d diffWriter) ChangeDiff(c merkle.Change, diff *textdiff.Diff) error {
	return d.w.ChangeDiff(c, diff)
}
