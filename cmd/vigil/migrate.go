package main

import (
	"context"
	"fmt"
	"vigil/store"
)

const migrateAbout = `Convert a database written by an older vigil (schema 1) to this one, with
every kept baseline, after verifying each against its old hashes. The old
file is kept beside the new one as DATABASE.v1. Every other command refuses
an old database (exit 19) and names this one.`

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
