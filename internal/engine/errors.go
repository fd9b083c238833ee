package engine

import (
	"errors"

	"vigil/store"
)

var (
	// ErrExists means Init was asked to replace an existing baseline
	// without force.
	ErrExists = errors.New("a baseline exists already (use --force to replace it)")
	// ErrOutside means a path given to Check or Update lies outside every
	// root of the baseline.
	ErrOutside = errors.New("path is outside the baseline's roots")
	// ErrDBInside means the database file lies inside a monitored tree.
	ErrDBInside = errors.New("the database lies inside a monitored root")
	// ErrNoPath means a path given to Init does not exist.
	ErrNoPath = errors.New("no such file or directory; nothing to take a baseline of")
	// ErrNoRoots means none of the roots Init was to scan exists: the
	// baseline would watch nothing.
	ErrNoRoots = errors.New("refusing a baseline that watches nothing")
	// ErrNixSnapshotChanged means the Nix store's snapshot file is not the
	// one the current baseline records (see [Engine.CheckNix]).
	ErrNixSnapshotChanged = errors.New("the Nix snapshot is not the one the current baseline records")
)

// errNoParent means a scoped update's subtree has no directory above it to
// hang from, recorded or found by the scan.
var errNoParent = errors.New("no directory to record it in")

// errRace means a path changed while a Btrfs plan was being run: the check
// falls back to a scan.
var errRace = errors.New("changed while it was read")

// ErrHardened means update was asked for in the hardened phase, where
// changes are accepted only by a signed reseal.
var ErrHardened = errors.New("the host is in the hardened phase: accept planned changes with 'vigil reseal --key FILE --reason TEXT'")

var (
	// ErrStateUnsafe means the sample state file is not a regular file
	// owned by this user (or root) and closed to everyone else: its key
	// may be known, so the sample it drives would be predictable.
	ErrStateUnsafe = errors.New("unsafe sample state file")
	// ErrStateCorrupt means the sample state file does not parse or fails
	// its checksum.
	ErrStateCorrupt = errors.New("sample state file damaged")
	// ErrStateMissing means there is no sample state file although the
	// current baseline is older than two sample periods: it was deleted,
	// or this is the first whole check to keep its state there.
	ErrStateMissing = errors.New("sample state file missing")
	// ErrStateReplaced means the sample state file was changed after vigil
	// wrote it (its ctime is not the time it records): written back,
	// copied over or edited.
	ErrStateReplaced = errors.New("sample state file replaced")
	// ErrStateAhead means the sample state file records a check in a
	// later sample period than the clock's: the clock was set back, or
	// the file forged.
	ErrStateAhead = errors.New("sample state file ahead of the clock")
	// ErrStateFrozen means the sample state file is immutable or
	// append-only (chattr +i, +a): nobody but root freezes it.
	ErrStateFrozen = errors.New("sample state file frozen")
	// ErrStateUnwritten means the check could not record itself in the
	// sample state file.
	ErrStateUnwritten = errors.New("sample state file not written")
)

var (
	// ErrPhaseForged means an audit record moving the host back to the
	// setup phase does not carry a statement signed by the pinned key: it
	// does not count, and is itself a finding.
	ErrPhaseForged = errors.New("move to the setup phase not signed by the pinned key")
	// ErrRollback means the database is older than what was seen of it
	// before: its audit log does not extend the kept checkpoint, or its
	// current baseline is not the newest the log records.
	ErrRollback = errors.New("the database was put back to an older state")
	// ErrCheckpointMissing means the kept checkpoint is gone though the
	// audit log says it was written.
	ErrCheckpointMissing = errors.New("the kept checkpoint is missing")
	// ErrDamaged means the database's file failed a check at open (a
	// damaged meta page): no trust decision is taken on it.
	ErrDamaged = errors.New("the database is damaged: no trust decision is taken on it")
	// ErrPhaseRefused means an operation that would loosen or bypass the
	// hardened phase was asked for without the signed way to do it.
	ErrPhaseRefused = errors.New("refused in the hardened phase")
)

// ErrKey means a key file does not hold a vigil key.
var ErrKey = errors.New("not a vigil key")

// ErrUnknownPath means a path given to check or update is neither recorded
// in the baseline nor on disk: a typo, which a clean report would hide.
var ErrUnknownPath = errors.New("not in the baseline and not on disk")

var (
	// ErrUnsigned means a key is pinned but the baseline is not signed.
	// It wraps [store.ErrTampered]: nothing is compared with it.
	ErrUnsigned error = &trustError{"not signed"}
	// ErrForeignKey means the baseline is signed, but by a key other than
	// the pinned one. It wraps [store.ErrTampered].
	ErrForeignKey error = &trustError{"not signed by the pinned key"}
)

// trustError is a sentinel of a failed trust check that says what failed
// in words and still is [store.ErrTampered] to errors.Is.
type trustError struct{ msg string }

func (e *trustError) Error() string { return e.msg }
func (e *trustError) Unwrap() error { return store.ErrTampered }

// kindError is an error with its own message that errors.Is matches with
// kind.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
