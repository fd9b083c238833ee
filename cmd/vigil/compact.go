package main

import (
	"context"
	"fmt"
	"vigil/internal/progress"
)

const compactAbout = `Rewrite the database into a new file holding only the kept baselines and
switch it in atomically: the file shrinks (bbolt reuses freed pages but
never gives them back). Prints the size before and after.`

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
