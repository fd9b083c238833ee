// Package merkle defines vigil's file entries and the Merkle tree built from
// them: a canonical, versioned encoding of an entry's attested attributes, leaf
// and directory node hashes, a streaming [Builder] that turns entries in
// [ComparePaths] order into node hashes, and diffs that compare two trees or two
// entry streams.
//
// A leaf's hash is BLAKE3 over a domain tag and the encoding of the attributes
// its rule monitors ([Entry.Attrs]) plus its content hash. A directory's hash
// covers its own attributes and the sorted list of (name, child hash) pairs, so
// one root hash attests a whole baseline and two trees diff by descending only
// into subtrees whose hashes differ.
//
// The package does no I/O.
//
// # Caveats
//
// The device number ([Entry.Dev]) and the time a hash was taken
// ([Entry.HashedAt]) are recorded but not attested: the first can change across
// reboots with no change to the file, the second is bookkeeping for the stat
// cache. For device nodes the device number they point to ([Entry.Rdev]) is
// attested as their content.
package merkle
