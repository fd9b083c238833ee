package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/btrfs"
	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/store"
)

const restoreAbout = `Put each PATH back in the state the current baseline records, from the
read-only Btrfs snapshot the baseline was taken from (or the one at --from,
which some kept baseline must record). A directory is restored with
everything the baseline records below it; entries it does not record are
taken out (unless excluded). Nothing is changed for a PATH unless the
snapshot is trusted (read-only, uuid and transids as recorded, nothing
changed in it since), every directory above PATH is a directory (never a
symlink), and the snapshot's copy of each entry equals the baseline's record
(content hash, type, mode, owner, size, mtime, xattrs, flags, target), each
record verified through its directories to the root hash; with a pinned key
(--pubkey, trust.pubkey) the baseline must be sealed by it.

Files are reflinked into a temporary file beside the target, given owner,
mode, xattrs (file capabilities too), times and flags, and swapped in with
one atomic rename (immutable and append-only flags set last); the inode that
was there is neutralized (mode 000, no setuid, no capability) and kept as
evidence in the quarantine directory (--quarantine, relative to the
subvolume's top; default .vigil-quarantine, root-only), named after the time
and the path. Every restored entry is read again and must equal the record.
Symlinks are recreated, never followed; FIFOs and device nodes are made
anew; sockets are refused. A restored inode is new: check reports its inode
and ctime (and its directory's ctime) until they are accepted (update).

--dry-run verifies everything and prints what would be done, changing
nothing. Exit 0: every PATH restored or intact; 4: a PATH was refused or
failed; 8 with it: for an integrity reason (an untrusted snapshot, a copy
that is not the baseline's, a baseline that fails its seal).`

func runRestore(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) == 0 {
		return e.fail(&usageError{msg: "restore needs the PATHs to put back", cmd: inv.cmd})
	}
	paths, err := absPaths(inv.args)
	if err != nil {
		return e.fail(err)
	}
	// The same trust decision as check's: a baseline that must not be
	// compared with is not restored from.
	eng, db, verdict, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	if verdict.Phase.Phase == engine.PhaseHardened && !verdict.Sealed {
		return e.fail(fmt.Errorf("%w: the host is in the hardened phase but its baseline is not sealed: nothing is restored from it", store.ErrTampered))
	}
	o := engine.RestoreOptions{Config: eng.Config(), Paths: paths, DryRun: inv.bool("dry-run"), Quarantine: inv.str("quarantine")}
	if from := inv.str("from"); from != "" {
		if o.From, err = filepath.Abs(from); err != nil {
			return e.fail(err)
		}
	}
	o.Verifiers, _ = eng.Pinned()
	res, err := engine.Restore(ctx, db, o)
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	return e.reportRestore(inv, res, o.DryRun, verdict.Phase.Phase)
}

// reportRestore prints one line (or event) per path and returns the exit
// code.
func (e *env) reportRestore(inv *invocation, res []engine.RestoreResult, dry bool, phase string) int {
	jsonOut := inv.bool("json")
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Host: hostname(), Phase: phase})
	code := exitOK
	for _, r := range res {
		msg := ""
		if r.Err != nil {
			msg = r.Err.Error()
			code |= exitChanged
			if integrityRefusal(r.Err) {
				code |= exitTampered
			}
			e.log.Error().Str("path", quote(r.Path)).Str("action", r.Action.String()).Msg(msg)
		}
		info := alerts.Restore{Snapshot: r.Snapshot, Baseline: r.Baseline, Entries: r.Entries,
			Quarantined: r.Quarantined, Cloned: r.Cloned, Copied: r.Copied, DryRun: dry}
		ev := alerts.FromRestore(r.Action.String(), r.Path, r.Changed.Names(), info, msg, hostname(), time.Now())
		if e.quiet && !jsonOut && r.Err == nil {
			continue
		}
		if err := w.Event(ev, restoreLine(r)); err != nil {
			return e.fail(err)
		}
	}
	return code
}

// integrityRefusal says a restore was refused because something that must
// be trusted is not.
func integrityRefusal(err error) bool {
	return errors.Is(err, btrfs.ErrUntrusted) || errors.Is(err, engine.ErrSourceMismatch) ||
		errors.Is(err, store.ErrTampered) || errors.Is(err, engine.ErrUnsafePath) || errors.Is(err, engine.ErrNotRestored)
}

// restoreLine is the text line of one path's restore.
func restoreLine(r engine.RestoreResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-15s %s", r.Action, quote(r.Path))
	switch r.Action {
	case engine.Restored, engine.WouldRestore:
		fmt.Fprintf(&b, " (%d entries from %s", len(r.Entries), quote(r.Snapshot))
		if r.Changed != 0 {
			fmt.Fprintf(&b, "; differed: %s", r.Changed)
		}
		b.WriteString(")")
		verb := "quarantined"
		if r.Action == engine.WouldRestore {
			verb = "would take out"
		}
		for _, q := range r.Quarantined {
			fmt.Fprintf(&b, "\n    %s %s", verb, quote(q))
		}
	case engine.Refused, engine.RestoreFailed:
		fmt.Fprintf(&b, ": %s", r.Err)
	}
	return b.String()
}
