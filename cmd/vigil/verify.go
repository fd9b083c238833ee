package main

import (
	"context"
	"fmt"
)

const verifyAbout = `Check the database: bbolt's own page consistency check, every record
decodes, and every kept baseline hashes to its recorded directory and root
hashes, and the records of its Nix tree to the tree's root. Exit 0 if all is well, 8 if a baseline does not match its hashes,
24 if the database is damaged.`

func runVerify(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) > 0 {
		return e.fail(&usageError{msg: "verify takes no arguments", cmd: inv.cmd})
	}
	_, db, verdict, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	code := exitOK
	if verdict.Critical() {
		code = exitTampered
	}
	all, err := db.Baselines()
	if err != nil {
		return e.fail(err)
	}
	if err := verifyNixTrees(db, all); err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "%s: %d baselines verified\n", db.Path(), len(all))
	}
	return code
}
