package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"vigil/internal/engine"
	"vigil/internal/nix"
	"vigil/internal/report"
	"vigil/merkle"
	"vigil/store"
)

// nixInCheck is the Nix part of a whole `vigil check`: it runs when [nix]
// is on, the Nix database exists and the baseline checked records a Nix
// snapshot (vigil nix snapshot, then update or seal), and the snapshot on
// disk has the content recorded; its findings go out as check's events and
// add their bits to the exit code. A snapshot whose content differs is
// already a change of check's: the Nix part is skipped, with a warning.
// With full (check --full) every store path is rehashed.
func (e *env) nixInCheck(ctx context.Context, w *report.Writer, eng *engine.Engine, db *store.DB, full bool) (int, error) {
	cfg := eng.Config()
	st := nix.Store{Root: cfg.Nix.RootDir()}
	if (cfg.Nix.Enabled != nil && !*cfg.Nix.Enabled) || !st.Exists() {
		return exitOK, nil
	}
	path := cfg.Nix.SnapshotPath()
	cur, err := db.Current()
	if err != nil {
		return 0, dbError(db.Path(), err)
	}
	want, err := cur.Lookup(path)
	if errors.Is(err, store.ErrNotFound) {
		return exitOK, nil
	}
	if err != nil {
		return 0, dbError(db.Path(), err)
	}
	got, err := engine.ScanPath(ctx, path, merkle.AttrContent)
	if err != nil || got.Err != "" || merkle.Compare(want, got).Has(merkle.AttrContent) {
		e.log.Warn().Str("snapshot", quote(path)).Msg("the Nix snapshot is not the baseline's: the Nix store was not checked")
		return exitOK, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var sealed nix.Snapshot
	if err := json.Unmarshal(b, &sealed); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	conf, err := st.ReadConf()
	if err != nil {
		return 0, err
	}
	opts := nix.Options{Conf: conf, Known: sealed.Known(), Full: full} // check --full rehashes every store path
	if n := cfg.RereadWithin; n > 0 {
		opts.Rehash = func(string) bool { return rand.IntN(n) < 2 }
	}
	r, err := nix.Verify(ctx, st, opts)
	if err != nil {
		return 0, err
	}
	roots, err := st.SystemRoots()
	if err != nil {
		return 0, err
	}
	fs := append(r.Findings, nix.Compare(sealed, r, roots)...)
	nix.SortFindings(fs)
	code := exitOK
	for _, f := range fs {
		code |= nixExit[f.Kind]
		if err := w.Event(nixEvent(f), nixLine(f)); err != nil {
			return 0, err
		}
	}
	return code, nil
}
