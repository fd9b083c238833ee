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
// [Settler] coalesces events per path: a path is handed on once no event
// came for it during the settle window, or at the latest after the upper
// bound for a path written continuously.
//
// # Caveats
//
// inotify sees no writes through mmap and does not work on NFS or FUSE
// mounts; periodic scans (the daemon's) cover them. A fanotify backend
// watching whole filesystems can sit behind [Source] later.
package watch
