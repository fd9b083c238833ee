package merkle

// SameLeaf reports whether a and b have the same [LeafHash] (and
// [LeafHashV1]) without hashing either: the same name, the same monitored
// attribute set and equal values of every attribute [AppendAttested]
// encodes. It lets a caller that already computed the leaf hash of one
// reuse it for the other.
func SameLeaf(a, b *Entry) bool {
	if a.Attrs != b.Attrs || a.Type != b.Type || a.Name() != b.Name() {
		return false
	}
	return Compare(a, b) == 0
}

// AddHashed is [Builder.Add] of an entry whose leaf hash h the caller has
// already computed: h must be [LeafHash] of e, from bytes the caller hashed
// itself (see [SameLeaf]), never a hash read from storage. A directory, or a
// Builder of another scheme, ignores h and hashes e.
func (b *Builder) AddHashed(e *Entry, h Hash) error {
	if e.Type == TypeDir || b.portable || b.version != V2 {
		return b.Add(e)
	}
	return b.add(e, &h)
}
