package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"
	"vigil/internal/progress"
)

const statusUsage = `vigil status [--json]

Show the current baseline: root hash, time, host, counts, roots, the
database path and size, and the older baselines kept.

  --json   print the baselines' metadata as JSON
`

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "JSON output")
	if _, err := parseFlags(fs, args); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	db, err := e.open(cfg, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w", db.Path(), err))
	}
	all, err := db.Baselines()
	if err != nil {
		return e.fail(err)
	}
	size, err := db.Size()
	if err != nil {
		return e.fail(err)
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(map[string]any{"database": db.Path(), "size": size, "current": cur.Info(), "baselines": all})
		if err != nil {
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
config     %s
database   %s (%s)
`, in.ID, in.Command, in.Version, quote(in.Host), in.Created.Local().Format(time.RFC3339), in.Root,
		strings.Join(quoteAll(in.Roots), " "), c.Entries, c.Files, progress.IEC(c.Bytes), c.Dirs, c.Symlinks, c.Other,
		c.Errors, c.HashSkipped, c.Unstable, in.ConfigDigest, db.Path(), progress.IEC(size))
	if len(all) > 1 {
		fmt.Fprintln(e.stdout, "kept:")
		for _, b := range all {
			fmt.Fprintf(e.stdout, "  %d  %s  %s  %s\n", b.ID, b.Created.Local().Format(time.RFC3339), b.Command, b.Root)
		}
	}
	return exitOK
}

// verifyUsage describes verify.
const verifyUsage = `vigil verify

Check the database: bbolt's own page consistency check, every record
decodes, and every kept baseline hashes to its recorded directory and root
hashes. Exit 0 if all is well, 8 if a baseline does not match its hashes,
24 if the database is damaged.
`

func runVerify(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 {
		return e.usage("verify takes no arguments")
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	db, err := e.open(cfg, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return e.fail(err)
	}
	all, err := db.Baselines()
	if err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "%s: %d baselines verified\n", db.Path(), len(all))
	}
	return exitOK
}
