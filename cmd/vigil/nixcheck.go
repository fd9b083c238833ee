package main

import (
	"context"
	"errors"
	"time"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/store"
)

// nixInCheck is the Nix part of a whole `vigil check`: it runs when [nix]
// is on and the Nix database exists (engine.CheckNix), against the
// snapshot when the baseline checked records it and the file on disk has
// the content recorded; its findings go out as check's events and add
// their bits to the exit code. A snapshot whose content differs is already
// a change of check's: the Nix part is skipped, with a warning. With full
// (check --full) every store path is rehashed; else the keyed sample of
// sampleFile (the check's) chooses the trusted store paths rehashed anyway.
func (e *env) nixInCheck(ctx context.Context, w *report.Writer, eng *engine.Engine, db *store.DB, full bool, sampleFile string) (int, error) {
	res, err := eng.CheckNix(ctx, db, engine.NixRequest{Full: full, SampleFile: sampleFile, SealedOnly: true})
	switch {
	case err != nil:
		return 0, err
	case res.Off:
		return exitOK, nil
	case errors.Is(res.Tampered, store.ErrTampered):
		// The Nix tree's records are not the ones the seal signs: no
		// change of check's shows it.
		ev := alerts.Tampered(res.Tampered, hostname(), time.Now())
		ev.Event.Action = "nix_snapshot_changed"
		return exitTampered, w.Event(ev, "! nix tree: "+res.Tampered.Error())
	case res.Tampered != nil:
		e.log.Warn().Err(res.Tampered).Msg("the Nix snapshot is not the baseline's: the Nix store was not checked")
		return exitOK, nil
	}
	code := exitOK
	for _, f := range res.Findings {
		code |= nixExit[f.Kind]
		if err := w.Event(nixEvent(f), nixLine(f)); err != nil {
			return 0, err
		}
	}
	return code, nil
}
