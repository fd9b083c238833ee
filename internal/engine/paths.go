package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"vigil/store"
)

// KnownPaths checks the paths given to a check or update of part of the
// current baseline: each must lie inside one of its roots ([ErrOutside])
// and be recorded in it or exist on disk ([ErrUnknownPath]: a typo, which
// would otherwise give a clean report). A recorded path that is gone is a
// deletion, for the check to report. The absence of a record is verified
// up to the baseline's root hash; a path on disk costs one lstat.
//
// The daemon does not call it: a path that was created and removed
// between two events is nothing to report, not an error.
func KnownPaths(db *store.DB, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	cur, err := db.Current()
	if err != nil {
		return err
	}
	if err := within(paths, cur.Info().Roots); err != nil {
		return err
	}
	for _, p := range paths {
		// Lstat follows the symlinks above p, not p: a path reachable
		// only through one is not unknown, and the scan (which follows
		// none) reports what it finds there.
		_, err := os.Lstat(p)
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if _, err := cur.Lookup(p); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s: %w", p, ErrUnknownPath)
		} else if err != nil {
			return err
		}
	}
	return nil
}
