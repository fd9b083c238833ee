package store

import "errors"

var (
	// ErrCorrupt means the database file, a stored record or a key could not
	// be read or decoded.
	ErrCorrupt = errors.New("database damaged")
	// ErrNoBaseline means the database holds no (complete) baseline.
	ErrNoBaseline = errors.New("no baseline")
	// ErrSchema means the database was written by another version of vigil
	// (an older one: run the migration).
	ErrSchema = errors.New("unsupported database schema")
	// ErrLocked means another process has the database open for writing.
	ErrLocked = errors.New("database is in use by another process")
	// ErrNotFound means a baseline or path is not in the database.
	ErrNotFound = errors.New("not found")
	// ErrUnsafe means the database file, or its directory, can be changed
	// by someone other than the user writing it (or root).
	ErrUnsafe = errors.New("unsafe database file")
	// ErrAmbiguous means a root hash prefix names more than one baseline.
	ErrAmbiguous = errors.New("ambiguous")
)

// ErrTampered means a baseline's records do not hash to its recorded node
// or root hashes: it was modified outside vigil or damaged.
var ErrTampered = errors.New("baseline does not match its root hash")
