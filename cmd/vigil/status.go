package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"vigil/internal/engine"
	"vigil/internal/progress"
	"vigil/store"
)

const statusAbout = `Show the current baseline: root hash, time, host, counts, roots, the
configuration in use (and whether it is the one the baseline was taken
with), the database path and size, and the older baselines kept.`

func runStatus(ctx context.Context, e *env, inv *invocation) int {
	jsonOut := inv.bool("json")
	if len(inv.args) > 0 {
		return e.fail(&usageError{msg: "status takes no arguments", cmd: inv.cmd})
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
	cur, err := db.Current()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	all, err := db.Baselines()
	if err != nil {
		return e.fail(err)
	}
	size, err := db.Size()
	if err != nil {
		return e.fail(err)
	}
	tr, err := e.trustStatus(eng, db)
	if err != nil {
		return e.fail(err)
	}
	if jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		out := map[string]any{"database": db.Path(), "size": size, "current": cur.Info(), "baselines": all,
			"config": map[string]any{"source": cfg.Source, "digest": cfg.Digest(), "matches_baseline": cfg.Digest() == cur.Info().ConfigDigest},
			"trust":  tr}
		if pr := cur.Info().PortableRoot; pr != (store.RootHash{}) {
			out["portable_root"] = pr
		}
		if err := enc.Encode(out); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	in := cur.Info()
	c := in.Counts
	fmt.Fprintf(e.stdout, `baseline   %d (%s by vigil %s on %s)
created    %s
root       %s
roots      %s
entries    %d: %d files (%s), %d dirs, %d symlinks, %d other
problems   %d errors, %d hash skipped, %d unstable
config     %s (baseline's); in use: %s, %s
database   %s (%s)
`, in.ID, in.Command, in.Version, quote(in.Host), in.Created.Local().Format(time.RFC3339), in.Root,
		strings.Join(quoteAll(in.Roots), " "), c.Entries, c.Files, progress.IEC(c.Bytes), c.Dirs, c.Symlinks, c.Other,
		c.Errors, c.HashSkipped, c.Unstable, in.ConfigDigest, quote(cfg.Source), configMatch(cfg.Digest(), in.ConfigDigest), db.Path(), progress.IEC(size))
	if in.PortableRoot != (store.RootHash{}) {
		fmt.Fprintf(e.stdout, "portable   %s (what another host's copy keeps)\n", in.PortableRoot)
	}
	fmt.Fprintf(e.stdout, "phase      %s (recorded), requested %s\n", tr.Phase, tr.Requested)
	if tr.Pubkey == "" {
		fmt.Fprintf(e.stdout, "trust      no key pinned (trust.pubkey)")
	} else {
		fmt.Fprintf(e.stdout, "trust      key %s pinned (%s)", tr.KeyName, quote(tr.Pubkey))
	}
	fmt.Fprintf(e.stdout, "; checkpoint kept in %s (size %d of %d records)\n", quote(tr.Checkpoint), tr.CheckpointSize, tr.AuditSize)
	if tr.Untrusted != "" {
		fmt.Fprintf(e.stdout, "UNTRUSTED  %s\n", tr.Untrusted)
	}
	for _, f := range tr.Findings {
		fmt.Fprintf(e.stdout, "finding    %s\n", f)
	}
	for _, s := range in.Snapshots {
		fmt.Fprintf(e.stdout, "snapshot   %s for %s (btrfs, uuid %s, otransid %d)\n", quote(s.Path), quote(s.Root), s.UUID, s.OTransid)
	}
	if len(all) > 1 {
		fmt.Fprintln(e.stdout, "kept:")
		for _, b := range all {
			fmt.Fprintf(e.stdout, "  %d  %s  %s  %s\n", b.ID, b.Created.Local().Format(time.RFC3339), b.Command, b.Root)
		}
	}
	return exitOK
}

// configMatch says whether the configuration in use is the baseline's.
func configMatch(inUse, baseline string) string {
	if inUse == baseline {
		return "the same"
	}
	return "a different one (digest " + inUse + ")"
}

// trustInfo is what status says of the trust settings and decision.
type trustInfo struct {
	Phase          string   `json:"phase"`
	Requested      string   `json:"requested"`
	Pubkey         string   `json:"pubkey,omitempty"`
	KeyName        string   `json:"key_name,omitempty"`
	Checkpoint     string   `json:"checkpoint"`
	CheckpointSize int64    `json:"checkpoint_size"`
	AuditSize      int64    `json:"audit_size"`
	Sealed         bool     `json:"sealed"`
	Untrusted      string   `json:"untrusted,omitempty"`
	Findings       []string `json:"findings,omitempty"`
}

// trustStatus takes the trust decision for status: what it finds is shown,
// not a failure.
func (e *env) trustStatus(eng *engine.Engine, db *store.DB) (trustInfo, error) {
	v, err := eng.Trust(db)
	if err != nil {
		return trustInfo{}, dbError(db.Path(), err)
	}
	tr := trustInfo{Phase: v.Phase.Phase, Requested: v.Phase.Requested, Checkpoint: eng.KeptCheckpoint(),
		CheckpointSize: v.Checkpoint, AuditSize: v.Audit, Sealed: v.Sealed}
	if vs, path := eng.Pinned(); vs != nil {
		tr.Pubkey = path
		if k, err := engine.ReadVerifier(path); err == nil {
			tr.KeyName = k.Name()
		}
	}
	if v.Untrusted != nil {
		tr.Untrusted = v.Untrusted.Error()
	}
	for _, f := range v.Findings {
		tr.Findings = append(tr.Findings, f.Action+": "+f.Err.Error())
	}
	return tr, nil
}
