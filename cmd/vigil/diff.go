package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/internal/engine"
	"vigil/internal/progress"
	"vigil/internal/report"
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

const logAbout = `List the stored baselines, newest first: id, time, command, entries, root,
and why it was taken when that was said. With --json, one object per line
with id, parent, created, command, root, entries, files, changes (records
written), reason and user.`

const compactAbout = `Rewrite the database into a new file holding only the kept baselines and
switch it in atomically: the file shrinks (bbolt reuses freed pages but
never gives them back). Prints the size before and after.`

const migrateAbout = `Convert a database written by an older vigil (schema 1) to this one, with
every kept baseline, after verifying each against its old hashes. The old
file is kept beside the new one as DATABASE.v1. Every other command refuses
an old database (exit 19) and names this one.`

func runDiff(ctx context.Context, e *env, inv *invocation) int {
	jsonOut := inv.bool("json")
	if len(inv.args) == 2 && isPathArg(inv.args[0]) && isPathArg(inv.args[1]) {
		return e.diffSnapshots(ctx, inv)
	}
	if len(inv.args) > 2 {
		return e.fail(&usageError{msg: "diff takes at most 2 arguments", cmd: inv.cmd})
	}
	eng, err := e.engine(inv)
	if err != nil {
		return e.fail(err)
	}
	cfg := eng.Config()
	db, err := e.openDB(eng, true, false)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	// The same trust decision as check's: stored baselines of a database
	// that must not be trusted (a broken seal, a rollback) are not diffed.
	verdict, err := e.trust(eng, db)
	if err != nil {
		return e.fail(err)
	}
	e.logFindings(verdict)
	a, b, err := diffPair(db, inv.args)
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w", db.Path(), err))
	}
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Color: !jsonOut && useColor(e.stdout), Host: hostname(), Verbose: inv.bool("verbose"), Phase: verdict.Phase.Phase})
	start := time.Now()
	res, err := engine.Diff(ctx, a, b, engine.Options{Config: cfg, Change: w.Change})
	if err != nil {
		return e.fail(err)
	}
	code := diffCode(res)
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

func runLog(ctx context.Context, e *env, inv *invocation) int {
	jsonOut := inv.bool("json")
	_, db, err := e.database(inv, true, 0)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	all, err := db.Baselines()
	if err != nil {
		return e.fail(err)
	}
	var cur uint64
	if c, err := db.Current(); err == nil {
		cur = c.Info().ID
	}
	enc := json.NewEncoder(e.stdout)
	for _, in := range slices.Backward(all) {
		l := logLine{ID: in.ID, Parent: in.Parent, Created: in.Created, Command: in.Command, Root: in.Root.String(),
			Entries: in.Counts.Entries, Files: in.Counts.Files, Changes: in.Changes, Reason: in.Reason,
			User: in.User, Current: in.ID == cur}
		if jsonOut {
			if err := enc.Encode(l); err != nil {
				return e.fail(err)
			}
			continue
		}
		mark := " "
		if l.Current {
			mark = "*"
		}
		fmt.Fprintf(e.stdout, "%s%4d  %s  %-7s %9d entries %7d written  %.16s", mark, l.ID,
			in.Created.Local().Format(time.RFC3339), l.Command, l.Entries, l.Changes, l.Root)
		if l.Reason != "" {
			fmt.Fprintf(e.stdout, "  %s", quote(l.Reason))
		}
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

func runCompact(ctx context.Context, e *env, inv *invocation) int {
	_, db, err := e.database(inv, false, 0)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	before, after, err := db.Compact()
	if err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "%s: %s -> %s\n", db.Path(), progress.IEC(before), progress.IEC(after))
	}
	return exitOK
}

func runMigrate(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) > 0 {
		return e.fail(&usageError{msg: "migrate takes no arguments", cmd: inv.cmd})
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	n, err := store.Migrate(cfg.Database)
	if err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "%s: %d baselines migrated to schema %d; the old file is %s.v1\n",
			cfg.Database, n, store.SchemaVersion, cfg.Database)
	}
	return exitOK
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
	res, err := engine.DiffSnapshots(ctx, paths[0], paths[1], engine.Options{Change: w.Change})
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
