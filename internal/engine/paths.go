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
// deletion, for the check to report. The record, or its absence, is
// verified up to the baseline's root hash.
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
		_, err := cur.Lookup(p)
		if !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		// Lstat follows the symlinks above p, not p: a path reachable
		// only through one is not unknown, and the scan (which follows
		// none) reports what it finds there.
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%s: %w", p, ErrUnknownPath)
		}
	}
	return nil
}
