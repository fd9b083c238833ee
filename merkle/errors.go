package merkle

import "errors"

var (
	// ErrUnsorted means entries reached a [Builder] out of [ComparePaths] order
	// or twice.
	ErrUnsorted = errors.New("entries out of order")
	// ErrOrphan means an entry reached a [Builder] whose parent directory is
	// not the directory currently open.
	ErrOrphan = errors.New("entry outside any open directory")
	// ErrNotAbs means a path is not absolute and clean.
	ErrNotAbs = errors.New("path is not absolute and clean")
)

// ErrBadProof means a [Proof] does not lead to the root it was checked
// against, or is malformed.
var ErrBadProof = errors.New("proof does not verify")
