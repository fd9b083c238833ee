package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/nix"
)

const nixAbout = `The Nix store ([nix]; on by default where /nix/var/nix/db/db.sqlite exists),
verified against the Nix database, which vigil only reads.

  check     every valid store path's NAR serialization hashed (SHA-256) and
            compared with the database's NAR hash (a path whose files are all
            unchanged by inode, size, mtime, ctime, mode and link count since
            the snapshot is not rehashed, but for the keyed sample of
            check's files, unless --full: a rotating share chosen by BLAKE3
            keyed with the sample state's secret over the sample period and
            the store path, so that every trusted path is rehashed within
            scan.reread_within periods); every entry of
            /nix/store listed in the database; with require-sigs (nix.conf),
            every path signed by a key of trusted-public-keys, built here, or
            content-addressed; against the snapshot: database records changed
            since, and store paths of the system closure (/run/current-system,
            /run/booted-system, /nix/var/nix/profiles/system*) that it did not
            hold, with the generation that brought them.
  snapshot  verify the store (every path rehashed) and, if nothing is wrong,
            write the snapshot (nix.snapshot, default
            /etc/vigil/nix-store.json): every valid path's database record
            and the system closure. It is a file in a monitored root: the
            next update, seal or reseal accepts it like any other change,
            and keeps its records as the leaves of the baseline's Nix tree,
            whose root the signed statement carries (vigil proof --nix
            proves one store path's record; vigil diff names the store
            paths whose records differ between two baselines).
  diff      the store paths added to and removed from the system closure
            since the snapshot (as nix store diff-closures, by path).

A whole 'vigil check' runs check's part too once the current baseline
records the snapshot, and so does 'vigil watch' (every nix.interval, and at
once when the system profile or /run/current-system moves). The snapshot is used only if it is the one the current baseline records,
under the trust decision (a snapshot changed since is a finding, exit 8).
Findings (--json: one ECS event each, event.action): nix_content_changed,
nix_path_missing, nix_path_unregistered, nix_path_untrusted, nix_db_changed,
nix_closure_added, nix_closure_removed, nix_snapshot_changed. Exit codes as
check's: 1 paths added (unregistered, closure added), 2 removed, 4 changed or
untrusted, 8 the snapshot is not the sealed one.`

func runNix(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 {
		return e.fail(&usageError{msg: "nix takes one argument: check, snapshot or diff", cmd: inv.cmd})
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	st := nix.Store{Root: cfg.Nix.RootDir()}
	switch {
	case cfg.Nix.Enabled != nil && !*cfg.Nix.Enabled:
		e.log.Info().Msg("[nix] is turned off (nix.enabled = false)")
		return exitOK
	case !st.Exists() && cfg.Nix.Enabled == nil:
		e.log.Info().Str("database", quote(st.Real(nix.DBPath))).Msg("no Nix database: nothing to check")
		return exitOK
	case !st.Exists():
		return e.fail(fmt.Errorf("%w: nix.enabled is true, but there is no Nix database at %s", config.ErrInvalid, st.Real(nix.DBPath)))
	}
	switch inv.args[0] {
	case "check", "diff":
		return e.nixCheck(ctx, inv, cfg, st)
	case "snapshot":
		return e.nixSnapshot(ctx, cfg, st)
	}
	return e.fail(&usageError{msg: fmt.Sprintf("nix: unknown argument %q", inv.args[0]), cmd: inv.cmd})
}

// nixSnapshot verifies the whole store and writes its snapshot; a store
// with anything wrong is refused and nothing is written.
func (e *env) nixSnapshot(ctx context.Context, cfg *config.Config, st nix.Store) int {
	conf, err := st.ReadConf()
	if err != nil {
		return e.fail(err)
	}
	r, err := nix.Verify(ctx, st, nix.Options{Conf: conf, Full: true})
	if err != nil {
		return e.fail(err)
	}
	if len(r.Findings) > 0 {
		code := e.printNixFindings(r.Findings, false)
		e.log.Error().Int("findings", len(r.Findings)).Msg("the store does not verify against the Nix database: no snapshot written")
		return code
	}
	roots, err := st.SystemRoots()
	if err != nil {
		return e.fail(err)
	}
	snap := r.Snapshot(roots)
	b, err := json.Marshal(snap)
	if err != nil {
		return e.fail(err)
	}
	path := cfg.Nix.SnapshotPath()
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "%s: %d store paths (%d hashed, %d bytes), system closure %d paths; accept it with 'vigil update %s' (or reseal)\n",
			path, len(snap.Paths), r.Hashed, r.Bytes, len(snap.Closure), path)
	}
	return exitOK
}

// writeFileAtomic writes data to a new file beside path and renames it
// over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".nix-snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// nixCheck runs nix check and nix diff, through the engine's CheckNix
// after the trust decision.
func (e *env) nixCheck(ctx context.Context, inv *invocation, cfg *config.Config, st nix.Store) int {
	eng, db, _, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	check := inv.args[0] == "check"
	res, err := eng.CheckNix(ctx, db, engine.NixRequest{
		Full: inv.bool("full"),
		// The keyed sample's key of the CLI's checks (read, not written):
		// which trusted store paths are rehashed anyway, as for files.
		SampleFile:  engine.SamplePath(db.Path()),
		ClosureOnly: !check,
	})
	if err != nil {
		return e.fail(err)
	}
	if res.Tampered != nil {
		ev := alerts.Tampered(res.Tampered, hostname(), time.Now())
		ev.Event.Action = "nix_snapshot_changed"
		e.printNixEvent(inv.bool("json"), ev, "! nix snapshot: "+res.Tampered.Error())
		return exitTampered
	}
	if !res.Sealed {
		e.log.Warn().Str("snapshot", quote(cfg.Nix.SnapshotPath())).Msg("the current baseline records no Nix snapshot: the store is checked against the Nix database only ('vigil nix snapshot', then update or reseal)")
	}
	code := e.printNixFindings(res.Findings, inv.bool("json"))
	if r := res.Report; !e.quiet && !inv.bool("json") && check {
		fmt.Fprintf(e.stdout, "nix: %d store paths, %d hashed (%d bytes), %d unchanged since the snapshot, %d findings\n",
			len(r.Paths), r.Hashed, r.Bytes, r.Reused, len(res.Findings))
	}
	return code
}

// nixExit is each finding's bit of the exit code.
var nixExit = map[nix.Kind]int{
	nix.Unregistered: exitAdded, nix.ClosureAdded: exitAdded,
	nix.Missing: exitRemoved, nix.ClosureRemoved: exitRemoved,
	nix.ContentChanged: exitChanged, nix.DBChanged: exitChanged, nix.Untrusted: exitChanged,
}

// printNixFindings prints one line (or ECS event) per finding and returns
// the exit code they make.
func (e *env) printNixFindings(fs []nix.Finding, jsonOut bool) int {
	code := exitOK
	for _, f := range fs {
		code |= nixExit[f.Kind]
		e.printNixEvent(jsonOut, nixEvent(f), nixLine(f))
	}
	return code
}

// nixEvent is the ECS event of a finding: event.action its kind, file.path
// the store path, error.message its line.
func nixEvent(f nix.Finding) alerts.Event {
	return alerts.Nix(alerts.NixFinding{Action: string(f.Kind), Severity: f.Kind.Severity(), Path: f.Path, Message: nixLine(f)},
		hostname(), time.Now())
}

func nixLine(f nix.Finding) string {
	marker := map[int]string{exitAdded: "+", exitRemoved: "-"}[nixExit[f.Kind]]
	if marker == "" {
		marker = "~"
	}
	s := fmt.Sprintf("%s %s %s", marker, f.Kind, f.Path)
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	if f.Generation != 0 {
		s += fmt.Sprintf(" (generation %d, %s)", f.Generation, f.Root)
	} else if f.Root != "" {
		s += " (" + f.Root + ")"
	}
	if len(f.Files) > 0 {
		s += "; files: " + strings.Join(f.Files, ", ")
	}
	return s
}

func (e *env) printNixEvent(jsonOut bool, ev alerts.Event, line string) {
	if !jsonOut {
		fmt.Fprintln(e.stdout, line)
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		fmt.Fprintln(e.stdout, line)
		return
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
}
