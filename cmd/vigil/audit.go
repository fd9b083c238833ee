package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"vigil/internal/engine"
)

const auditAbout = `Print the audit log, oldest first, one record per line (JSON with --json),
after verifying its hashes; the log's size and tree hash come last.`

func runAudit(ctx context.Context, e *env, inv *invocation) int {
	_, db, err := e.database(inv, true, 0)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	t, err := db.VerifyAudit()
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	err = db.AuditRecords(func(i int64, rec []byte) error {
		if inv.bool("json") {
			_, err := fmt.Fprintf(e.stdout, "%s\n", rec)
			return err
		}
		var r engine.AuditRecord
		if err := json.Unmarshal(rec, &r); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%4d  %s  %-9s baseline %-4d %.16s", i, r.Time.Local().Format(time.RFC3339), r.Type, r.Baseline, r.Root)
		if r.Reason != "" {
			fmt.Fprintf(e.stdout, "  %s", quote(r.Reason))
		}
		fmt.Fprintf(e.stdout, "  %s\n", r.User)
		return nil
	})
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	if !inv.bool("json") {
		fmt.Fprintf(e.stdout, "audit log: %d records, tree hash %s\n", t.N, t.Hash)
	}
	return exitOK
}
