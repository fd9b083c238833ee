// Package daemon is vigil watch: the watch service wiring the engine, the
// intake of hints (internal/watch) and delivery (alerts) together.
//
// The intake is a [watch.Source] made for the current baseline's roots and
// the configuration's exclusions: the one config watch.intake names
// (fanotify where it can mark the roots' filesystems, inotify otherwise,
// by default), unless [Options.Source] says otherwise (tests script one);
// the start's log line and /status say which. A hint for a path in an
// excluded subtree is dropped, whichever source sent it. The process a
// hint names (fanotify's) is kept through settling and goes into the alert
// of that path as ECS process.* and user.* fields.
//
// Hints settle per path ([watch.Settler]), then the engine verifies them: a
// scoped [engine.Check] of the settled paths, each as itself (never widened
// to its directory), re-stats and re-hashes them and
// compares them with the current baseline, every record it uses verified
// through its path to the root. Only a real difference becomes an alert (the
// ECS event of check --json, with event.id and event.severity); the same
// finding is sent once, and a path back in its baseline state gets a
// resolved event. A lost event (inotify overflow, a watcher error) and the
// start itself are caught up by a whole check; a periodic check (stat cache
// trusted) and a periodic full check (every file reread: writes through mmap
// raise no inotify event) run at their intervals.
//
// Nothing transient is lost: each hint's path is looked at as it arrives
// ([engine.Glimpse]), and a settled path found as recorded whose states in
// between differed is a transient event (transient.go). A hinted file of
// watch.large_file bytes or more is verified by a worker of its own, after
// a hash_pending notice, so that it delays no other alert (large.go); the
// watchdog is fed only while the verifier and that worker move
// (progress.go). vigil's own Btrfs snapshot and quarantine directories are
// neither watched nor verified ([engine.SkipOwn]).
//
// # Who owns which file
//
// The baseline database belongs to the CLI's writers (init, update): the
// daemon never opens it for writing. It opens it read-only for each
// verification and closes it afterwards, so check, status and update keep
// working while it runs (an update waits at most for one verification),
// and it reads the current baseline anew each time: after an update it
// compares against the new baseline, without a restart, and re-verifies
// what it had alerted on. The outbox (config watch.outbox, by default the
// database's path with ".outbox") is the daemon's own bbolt file, held open
// for writing while it runs; a second daemon on the same outbox fails.
//
// # Delivery
//
// Every event is written to the outbox before any sink sees it, and leaves a
// sink's queue only once that sink accepted it: at least once, across sink
// outages and a kill -9. Each queue is bounded (watch.outbox_max); events
// a full queue turns away are counted and delivered as one events_dropped
// summary once the sink catches up.
//
// The outbox file also remembers which paths are alerted on (and in which
// state), so that a restart neither repeats a standing alert nor misses the
// resolve of a path fixed while the daemon was down, and the standing
// alerts themselves, which a sink added by a reload is sent once. Both are
// saved, in one transaction, after the events saying so are in the outbox:
// a kill -9 in between repeats an alert (same event.id), never loses one.
// An ordered delivery stage does this for each batch of hints while the
// verifier checks the next batch (burst.go).
//
// Each event queued carries the host's event.sequence, assigned in the
// write that queues it; events gone from a sink's queue undelivered are an
// events_missing alert at the next start, and while it runs the file is
// checked again, and whether it is still the one at its path
// (outboxcheck.go). When the outbox cannot grow, its
// reserve file is given up; when even that is full the daemon degrades
// instead of exiting (stdout, file and syslog sinks get events at once, the
// others' wait in memory, /healthz says 503) and recovers by itself.
//
// # Floods and blind spots
//
// Alerts over the flood limits (per path; churn per directory) are
// coalesced into one events_coalesced summary per directory and window
// (flood.go). Mount changes under the roots, polled from
// /proc/self/mountinfo, are a mount_changed alert and a check of the
// subtree (mounts_linux.go), and make the intake anew, so that a new mount
// is marked or watched (remade.go). /healthz reports partial coverage, a sink
// failing for long and a stalled verification (health.go).
//
// # Remediation
//
// A rule's remediation (config.Remediation) acts on alerts of the hardened
// phase about changes, against a sealed baseline: "exec" runs a command
// with the alert on stdin, "restore" hands the path to the [Restorer] in
// [Options] (the Btrfs restore plugs in there; without one, [Run] and a
// reload refuse such a configuration, see [CheckRemediation]). The stage is
// a route of the dispatcher, so an alert is in the outbox before anything
// acts on it and an interrupted remediation runs again after a restart,
// unless its alert no longer stands. Each outcome is an event
// (alerts.Remediated). A path the restore put back is intact although its
// inode and ctime (and its directory's times) are new: the restore marks
// what it wrote (restored.go), so there is no new alert and no second
// remediation.
//
// # Caveats
//
// A crash between writing events to the outbox and remembering them as
// alerted repeats those alerts after the restart, with the same event.id.
// Moves are paired only when both names settle in the same batch; otherwise
// they are a deletion and a creation.
package daemon
