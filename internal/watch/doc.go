// Package watch turns filesystem notifications into hints of what to verify.
//
// A [Source] watches the configured roots and calls its emit function with
// [Event]s: a path whose entry may have changed ([Changed]), a subtree that
// must be scanned as a whole ([Tree]: a new or moved-in directory, a deleted
// or moved-away one, a subtree that could not be watched), or the news that
// events were lost ([Lost]: the kernel queue overflowed or the watcher
// failed), after which everything must be caught up by a scan. Events are
// hints, never the truth: the caller re-stats and re-hashes what they name
// and compares it with the baseline.
//
// [NewInotify] is the Linux backend on fsnotify. inotify is not recursive:
// every directory gets a watch. A new directory is watched first and then
// listed, and reported as a [Tree], so that what was created inside it
// before its watch existed is verified too (mkdir -p a/b && echo x > a/b/c
// is never missed). A directory renamed or deleted drops its subtree's
// watches; the new name, if inside a root, is watched afresh. Excluded
// subtrees get no watch. A directory whose watch cannot be added because the
// per-user limit (fs.inotify.max_user_watches) is reached falls back to a
// periodic scan of its subtree, reported in [Coverage] and as a [Tree] every
// [Options.FallbackInterval].
//
// [NewFanotify] is the Linux backend on fanotify, for a process with
// CAP_SYS_ADMIN: one FAN_MARK_FILESYSTEM mark per filesystem holding the
// roots (and per mount below them), events reported with the directory's
// file handle and the entry's name (FAN_REPORT_DFID_NAME), resolved to a
// path with open_by_handle_at and kept when inside a root and not
// excluded. There is no watch limit and a new directory is covered the
// moment it exists. Each event carries the [Process] that caused it, read
// from /proc when the event is read (FAN_REPORT_PIDFD, where the kernel
// has it, tells whether that process was still the same one); events of
// vigil's own process are dropped. A subtree whose filesystem cannot be
// marked (a Btrfs subvolume: EXDEV) is watched by inotify, reported in
// [Coverage]. FAN_CLOSE_WRITE marks an event [Closed].
//
// [Settler] coalesces events per path: a path is handed on once no event
// came for it during the settle window, or at the latest after the upper
// bound for a path written continuously; a [Closed] one at once.
//
// # Caveats
//
// inotify and fanotify see no writes through mmap and do not work on NFS
// or FUSE mounts; periodic scans (the daemon's) cover them.
//
// The process of an event is as /proc shows it when vigil reads the
// event, a fraction of a millisecond later: a process that exited by then
// leaves its pid only (a zombie its name, parent and user), one that
// exec'd since shows its new program (sh -c 'echo x >> f; sleep 1' is
// "sleep 1"), and its name and command line are what it says they are (a
// process may rewrite both); only the pid is certain. A
// directory deleted before its events are read cannot be resolved: those
// events are dropped, and its deletion, reported by its parent, is a
// [Tree] that takes them in. fanotify marks the whole filesystem: every
// change on it, inside the roots or not, costs the reader a handle
// resolution (cached per directory).
package watch
