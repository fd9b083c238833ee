// Package nixtree keeps a Nix store's sealed records ([nix.Snapshot]) as
// the leaves of a Merkle tree of their own, whose root a baseline's signed
// statement carries (its "nix" line): one leaf per store path, its
// canonical record ([EncodeRecord]: the database's NAR hash, size,
// registration time, ultimate flag, content address, signatures and
// references, the stat digest the stat cache trusts, and whether the
// sealed system closure holds it). [ProveRecord] proves one store path's
// record with log2(paths) hashes; [VerifyRecord] checks such a proof
// offline.
//
// The tree is merkle's: a directory "/" holding one file entry per store
// path, named by the path's base name, whose content hash is BLAKE3 over
// the canonical record ([LeafEntry]). Its root is a root of its own,
// never mixed with a baseline's file tree; every record starts with the
// line "vigil nix record v1", so no record has the content of a posture
// value, and no other vigil value is a record.
//
// # Caveats
//
//   - Records are kept whole, not as differences: a store of 100,000 paths
//     is about 100,000 leaves of a few hundred bytes, rehashed in full
//     ([TreeRoot]) each time they are read back.
//   - The tree says what was sealed, not what is on disk: a check compares
//     it with the Nix database and the store (internal/nix).
package nixtree
