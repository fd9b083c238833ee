package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"slices"
	"time"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/report"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

const checkUsage = `vigil check [--json] [--full] [PATH...]

Compare the host with the current baseline: the whole baseline, or only the
subtrees at PATHs. Files whose inode, inode generation, size, mtime and ctime
are unchanged are not read again, except a keyed, rotating sample of them
(scan.reread_within), unless --full is given. The baseline itself is verified
against its root hash on the way.

  --json   one ECS event per line (NDJSON), then a summary event
  --full   reread and rehash every file, from the disk (not the page cache)
`

// warnSymlinkRoot says that a root is a symlink whose target nothing
// watches.
func (e *env) warnSymlinkRoot(root, target string) {
	e.log.Warn().Str("root", quote(root)).Str("target", quote(target)).
		Msg("root is a symlink: only the link is recorded, never followed, and no root covers its target; list the target as a root to watch it")
}

func runCheck(ctx context.Context, e *env, args []string) int {
	return e.compare(ctx, "check", args, engine.Check)
}

// compare runs check or update: the two share flags and output.
func (e *env) compare(ctx context.Context, name string, args []string, op func(context.Context, *store.DB, engine.Options) (engine.Result, error)) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "NDJSON output")
	full := fs.Bool("full", false, "rehash every file")
	paths, cfg, db, err := e.prepare(fs, args, name == "check")
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	host := hostname()
	w := report.New(e.stdout, report.Options{JSON: *jsonOut, Color: !*jsonOut && useColor(e.stdout), Host: host})
	// Until the database keeps a sample key and a check counter, each run
	// draws a fresh key: every trusted file is then reread with
	// probability 1/L per check (see scanner.Sample), without the
	// guarantee that a kept key and counter give.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return e.fail(err)
	}
	var st scanner.Stats
	stop := e.startProgress(ctx, &st)
	start := time.Now()
	res, err := op(ctx, db, engine.Options{
		Config: cfg, Paths: paths, Full: *full, Stats: &st, Host: host, Version: version,
		SampleKey:   &key,
		Change:      func(c merkle.Change) error { stop(); return w.Change(c) },
		Error:       func(p string, err error) error { stop(); return w.Error(p, err) },
		SymlinkRoot: e.warnSymlinkRoot,
	})
	stop()
	if err != nil {
		return e.fail(err)
	}
	code := diffCode(res)
	if name == "update" {
		code = exitOK
	}
	if res.Tampered != nil {
		e.log.Error().Err(res.Tampered).Msg("the baseline does not match its recorded hashes")
	}
	if !slices.Equal(res.Baseline.Roots, cfg.Roots) && len(paths) == 0 {
		e.log.Warn().Msg("the configured roots differ from the baseline's, which are what " + name + " looks at; 'vigil init --force' takes a baseline of the configured ones")
	} else if name == "check" && res.Baseline.ConfigDigest != cfg.Digest() {
		e.log.Warn().Msg("the configuration changed since this baseline was taken; run 'vigil update' to record the change")
	}
	if err := w.Summary(summary(name, res, &st, time.Since(start), code)); err != nil {
		return e.fail(err)
	}
	if name == "update" && !e.quiet {
		logWritten(e, res)
	}
	return code
}

func summary(cmd string, res engine.Result, st *scanner.Stats, d time.Duration, code int) alerts.Summary {
	s := alerts.Summary{
		Command: cmd, Entries: res.Entries, Added: res.Added, Removed: res.Removed,
		Changed: res.Changed, Moved: res.Moved, Errors: res.Errors,
		Hashed: st.Hashed.Load(), BytesHashed: st.Bytes.Load(),
		OldRoot: hexHash(res.OldRoot), NewRoot: hexHash(res.NewRoot),
		Duration: d, ExitCode: code, Scope: res.Scopes,
	}
	return s
}

func hexHash(h merkle.Hash) string {
	if h == (merkle.Hash{}) {
		return ""
	}
	return hex.EncodeToString(h[:])
}
