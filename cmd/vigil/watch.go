package main

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/daemon"
)

const watchAbout = `Run the watch daemon in the foreground: inotify on every directory of the
current baseline's roots (excluded subtrees get none), or, where vigil has
CAP_SYS_ADMIN (watch.intake: auto, fanotify, inotify), fanotify: one mark
per filesystem, and the process behind each change in its alert (process.*,
user.*). Each hint is settled per path (watch.settle, 100 ms; at most
watch.max_settle, 2 s, for a file written continuously; a file closed after
writing, seen by fanotify, at once), then the path re-stat'ed, re-hashed and
compared with the baseline, verified through its path to the root. Only a real difference is
an alert: the ECS event of check --json with event.id (the same for the same
finding against the same baseline) and event.severity; a path back in its
baseline state gets a resolved event. The start, lost events (inotify
overflow) and watch.scan_interval (1 h) run a whole check; watch.full_scan_
interval (24 h) one that rereads every file.

Events go to the outbox (watch.outbox, default the database's path with
".outbox") first, then to the [[sink]]s (stdout when none is configured),
and leave it only once a sink accepted them: nothing is lost to a sink
outage or a kill -9. The baseline database is only ever opened read-only,
for each verification, so check, update and status keep working; after an
update the daemon compares against the new baseline.

A rule's remediation ("exec": a command with the alert's JSON on stdin, no
shell, killed at remediation_timeout; "restore": not in this vigil yet, so
refused) acts on alerts of the hardened phase against a sealed baseline,
never on learning events of the setup phase; its outcome is a remediation
event.

SIGTERM and SIGINT stop it once pending paths are verified and their events
are in the outbox (exit 0). SIGHUP reloads the configuration; a bad one is
refused, logged, and the running one kept. Under systemd (Type=notify) it
sends READY=1 after the first whole check, WATCHDOG=1 and STATUS=.`

func runWatch(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) > 0 {
		return e.fail(&usageError{msg: "watch takes no arguments", cmd: inv.cmd})
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	if _, err := os.Stat(cfg.Database); err != nil {
		_, err = e.open(cfg, true, false) // the message init's users know
		return e.fail(dbError(cfg.Database, err))
	}
	o := daemon.Options{
		Config: cfg, Log: e.log, Stdout: e.stdout, Host: hostname(), Version: version, Restorer: watchRestorer(cfg),
		Reload: func() (*config.Config, error) { return e.config() },
		Notify: func(state string) {
			if _, err := sddaemon.SdNotify(false, state); err != nil {
				e.log.Warn().Err(err).Msg("sd_notify")
			}
		},
	}
	if d, err := sddaemon.SdWatchdogEnabled(false); err == nil && d > 0 {
		o.Watchdog = d / 2
	}
	a, err := e.fleetAgent(cfg)
	if err != nil {
		return e.fail(err)
	}
	if a != nil {
		o.Witness = a
		o.QueuedSequence = new(atomic.Uint64)
		a.Sequence = o.QueuedSequence.Load
		for _, s := range cfg.Sinks {
			if s.Type == "nats" && (s.MinSeverity == "" || s.MinSeverity == "0") && len(s.Paths) == 0 {
				a.EventsComplete = true
			}
		}
		hctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Heartbeat(hctx, cfg, func(err error) { e.log.Warn().Err(err).Msg("fleet heartbeat") })
		}()
		defer func() { stop(); <-done }()
	}
	began := time.Now()
	e.log.Info().Str("database", quote(cfg.Database)).Str("outbox", quote(cfg.OutboxPath())).Msg("watch starting")
	err = daemon.Run(ctx, o)
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		e.log.Info().Dur("uptime", time.Since(began)).Msg("watch stopped")
		return exitOK
	}
	return e.fail(dbError(cfg.Database, err))
}

// watchRestorer returns what does the "restore" remediation: engine.Restore
// of the one path (see daemon.EngineRestorer), with the pinned key if any.
func watchRestorer(cfg *config.Config) daemon.Restorer {
	v, _, err := readVerifier("", cfg)
	if err != nil || v == nil {
		return daemon.EngineRestorer(cfg, nil) // a bad key fails the seal check of the watch itself
	}
	return daemon.EngineRestorer(cfg, note.VerifierList(v))
}
