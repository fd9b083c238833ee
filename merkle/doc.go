// Package merkle defines vigil's file entries and the Merkle tree built from
// them: a canonical, versioned encoding of an entry's attested attributes, leaf
// and directory node hashes, a streaming [Builder] that turns entries in
// [ComparePaths] order into node hashes, proofs of one path ([Proof]), and
// diffs that compare two trees or two entry streams.
//
// Under the current scheme ([V2]) a leaf's hash is BLAKE3 over a domain tag,
// the entry's name and the encoding of the attributes its rule monitors
// ([Entry.Attrs]) plus its content hash. A directory's hash covers its name,
// its own attributes, its number of children and [ChildRoot]: the root of a
// binary Merkle tree, shaped as RFC 6962's, over its children's node hashes
// in name order. One root hash attests a whole baseline, two trees diff by
// descending only into subtrees whose hashes differ, and the state of one
// path is proven with O(depth x log2 fan-out) hashes. [V1] (one hash over a
// directory's whole child list) is kept to verify old databases.
//
// The package does no I/O.
//
// # Caveats
//
// The device number ([Entry.Dev]) and the time a hash was taken
// ([Entry.HashedAt]) are recorded but not attested: the first can change across
// reboots with no change to the file, the second is bookkeeping for the stat
// cache. For device nodes the device number they point to ([Entry.Rdev]) is
// attested as their content. A proof shows that a path was recorded with
// given attributes; that a path was absent needs its parent's whole child
// list (as a store lookup reads).
package merkle
