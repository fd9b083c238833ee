package engine

import "vigil/merkle"

// hashedAdder is a new tree's builder that can take a leaf whose hash is
// already known ([merkle.Builder.AddHashed]). An unchanged entry's leaf hash
// is the one the baseline's [store.Verifier] computed from the stored
// record a moment before (never the hash the record carries): when the
// scanned entry equals the record field for field ([merkle.SameLeaf]), the
// check hashes it once instead of twice.
type hashedAdder interface {
	AddHashed(e *merkle.Entry, h merkle.Hash) error
}
