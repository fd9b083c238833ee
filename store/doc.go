// Package store keeps vigil's baselines in one bbolt database file, with
// history that costs only what changed and reads verified against the root.
//
// # Layout (schema 3)
//
// Bucket "meta" holds the schema version ("schema") and the id of the
// current baseline ("current"). Bucket "baselines" maps each baseline's id
// (8 bytes, big-endian, from the bucket's sequence) to its [Info] as JSON:
// root hash, parent, epoch, time, host, roots, configuration digest, counts,
// records written, reason and author. Bucket "epochs" holds one bucket per
// epoch: a whole baseline (init) starts an epoch; each update adds a delta
// to its parent's epoch. An epoch holds:
//
//   - "records": versions of entry records. A version's key is the path's
//     key (the path with every '/' turned into NUL, so that key order is
//     [merkle.ComparePaths] order and a subtree is one key range), two NUL
//     bytes, and the id of the baseline that wrote it. No name starts with
//     NUL, so a path's versions sort together, oldest first, before its
//     children. The value is the record (version byte, flags, varints; a
//     directory's also holds its node hash) or a one-byte tombstone for a
//     path the baseline deleted. Schema 3 added the flag of a birth time;
//     a schema 2 database is read as it is and marked 3 in the transaction
//     that starts its next baseline, so that a vigil that reads only
//     schema 2 refuses it.
//   - "journal": for each version a delta wrote, a key of the writer's id
//     and the path's key, so that pruning and the cleanup of an abandoned
//     write find exactly what they must touch.
//
// Baseline X of an epoch sees, for each path, the newest version written by
// a baseline no newer than X; a tombstone there means the path is absent.
// Reading a baseline in path order is one cursor pass over its epoch's
// records, as it was when every baseline held a full copy; a directory's
// children and a single path are found by seeking.
//
// # Why versioned records
//
// Two designs give structural sharing: content-addressed directory objects
// keyed by node hash (git's trees), or versioned records as here. With
// directory objects a changed file rewrites its directory's whole object:
// /usr/share/man/man1 holds 17,963 entries (about 2 MiB of records), so one
// changed man page would write more than the 1 MiB an update of ten changes
// may cost, and the check's merge-join would become a tree walk of random
// lookups. Versioned records write O(changes x depth) records whatever the
// fan-out, keep the check's sequential read, and let pruning work from the
// journal instead of a mark-and-sweep of shared objects.
//
// Bucket "content" holds the content of files a rule keeps for diffing,
// zstd-compressed under its BLAKE3 content hash: one copy per distinct
// content, shared between paths and baselines as records are, written in
// the transaction of the records that refer to it ([Writer.PutContent]) and
// released by [DB.Compact] when no stored record refers to it any more.
// [DB.Content] returns it unchecked: the caller compares it with the hash of
// a verified record.
//
// # Verification
//
// A directory's node hash (merkle v2) commits to its own attributes and to a
// binary Merkle tree over its children's node hashes, each bound to its
// name. A whole read ([Verifier], fed by an [Iter]) recomputes every hash up
// to the baseline's root hash. Any smaller read chains to the root:
// [Baseline.Children] checks the listed directory against the hash its
// parent holds for it (and [Baseline.Node] the root against [Info.Root]),
// [Baseline.Lookup] and [Baseline.Proof] verify one path through each
// directory above it in O(depth x fan-out) reads and O(depth x log2 fan-out)
// hashes of proof, and a scoped read verifies its subtrees' stored hashes
// the same way. No stored hash is trusted unless it chains to the root.
//
// # Crash safety and retention
//
// A new baseline is written beside the current one in batches (thousands of
// records per transaction) and switched in by one final transaction that
// also forgets the baselines beyond the configured number to keep. bbolt
// commits are atomic, so a process killed at any moment leaves the previous
// baseline current and intact. Freeing what only forgotten or abandoned
// baselines used is idempotent and runs in bounded transactions after each
// commit and before each write (so a kill in the middle leaves work for the
// next writer, never a broken baseline): an abandoned whole baseline drops
// its epoch, an abandoned delta its journaled versions; an epoch without
// baselines is dropped whole; within an epoch, the journal entries of
// baselines no newer than the oldest kept one delete the versions they
// superseded, and tombstones that old. [DB.Compact] rewrites the file into a
// new one switched in by rename, since bbolt never shrinks a file. [Migrate]
// converts a schema 1 database after verifying each baseline against its v1
// hashes.
//
// # Caveats
//
// bbolt allows one writing process at a time; [Open] fails with [ErrLocked]
// after [Options.Timeout]. Read transactions are kept short: readers of a
// baseline use one transaction per chunk of entries or per directory, and a
// baseline pruned while a long read is under way fails that read with
// [ErrNotFound] rather than giving half of it. A record rewrite that only
// moves the stat cache (a file hashed again within a second of a change)
// counts as a change and is written.
package store
