package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

const logAbout = `List the stored baselines, newest first: id, time, command, entries, root,
and why it was taken when that was said. With --json, one object per line
with id, parent, created, command, root, entries, files, changes (records
written), reason and user.`

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
