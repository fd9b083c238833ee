// Package store keeps vigil's baselines in one bbolt database file.
//
// # Layout
//
// Bucket "meta" holds the schema version ("schema") and the id of the
// current baseline ("current"). Bucket "baselines" holds one bucket per
// baseline, named by its id (8 bytes, big-endian, from the bucket's
// sequence), holding "info" (the JSON [Info]: root hash, time, host, roots,
// config digest, vigil version, counts, room for a signature) and "entries"
// (one record per path). Entry keys are the path with every '/' turned into a
// NUL byte, so that key order is [merkle.ComparePaths] order and a
// directory's subtree is one contiguous key range. Records are a version
// byte, flag bits and varints; a directory's record also holds its node hash.
//
// # Crash safety
//
// A new baseline is written beside the current one in batches (thousands of
// entries per transaction) and switched in by one final transaction, after
// which the oldest baselines beyond the configured number are deleted. bbolt
// commits are atomic, so a process killed at any moment leaves the previous
// baseline current and intact; the unfinished one is deleted by the next
// writer.
//
// # Caveats
//
// bbolt allows one writing process at a time; [Open] fails with [ErrLocked]
// after [Options.Timeout]. Read transactions are kept short: readers of a
// baseline use one transaction per chunk of entries or per directory.
// The file does not shrink when old baselines are deleted; bbolt reuses the
// pages.
package store
