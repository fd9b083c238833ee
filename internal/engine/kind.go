package engine

import (
	"context"
	"errors"
	"io/fs"

	"vigil/internal/config"
	"vigil/store"
)

// Kind classifies an error at the engine's boundary, for callers that
// answer each kind alike: the CLI maps kinds to exit codes in one table,
// the daemon decides whether to retry.
type Kind int

// The kinds of error, from most to least specific.
const (
	KindOther       Kind = iota // a bug, or nothing better known
	KindUsage                   // a request that cannot be done as asked (refused: nothing changed)
	KindConfig                  // the configuration is invalid or unusable
	KindDatabase                // the database is missing, locked, damaged, unsafe
	KindSchema                  // the database was written by another vigil version
	KindTampered                // the baseline or its records fail their hashes, seal or history
	KindUnsigned                // a seal is missing or by another key than the pinned one
	KindKey                     // a key file that cannot be used
	KindIO                      // reading or writing a file failed
	KindInterrupted             // the operation was cancelled
)

// kinds maps sentinels to kinds; the first match wins, so more specific
// sentinels come first.
var kinds = []struct {
	err  error
	kind Kind
}{
	{context.Canceled, KindInterrupted},
	{ErrExists, KindUsage}, {ErrOutside, KindUsage}, {ErrNoPath, KindUsage}, {ErrUnknownPath, KindUsage}, {ErrHardened, KindUsage},
	{ErrPhaseRefused, KindUsage}, {store.ErrAmbiguous, KindUsage},
	{config.ErrInvalid, KindConfig}, {ErrDBInside, KindConfig}, {ErrNoRoots, KindConfig},
	{ErrKey, KindKey},
	{ErrDamaged, KindDatabase},
	{ErrRollback, KindTampered}, {ErrCheckpointMissing, KindTampered}, {ErrPhaseForged, KindTampered},
	{ErrUnsigned, KindUnsigned}, {ErrForeignKey, KindUnsigned},
	{store.ErrTampered, KindTampered},
	{store.ErrSchema, KindSchema},
	{store.ErrNoBaseline, KindDatabase}, {store.ErrLocked, KindDatabase}, {store.ErrCorrupt, KindDatabase},
	{store.ErrNotFound, KindDatabase}, {store.ErrUnsafe, KindDatabase}, {ErrStateUnsafe, KindDatabase},
}

// KindOf returns err's kind.
func KindOf(err error) Kind {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return KindIO
	}
	return KindOther
}
