package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Preflight checks what Init needs before anything is created on disk: every
// path in o.Paths exists, at least one root exists (configured roots missing
// on this host are skipped, but not all of them), and the database at dbPath
// lies outside the roots. It returns the roots Init will scan. Callers run it
// before they create the database; Init runs it again.
func Preflight(o Options, dbPath string) ([]string, error) {
	roots := o.Config.Roots
	if len(o.Paths) > 0 {
		roots = o.Paths
	}
	present := 0
	for _, r := range roots {
		_, err := os.Lstat(r)
		switch {
		case err == nil:
			present++
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		case len(o.Paths) > 0:
			return nil, fmt.Errorf("%s: %w", r, ErrNoPath)
		}
	}
	if present == 0 {
		return nil, fmt.Errorf("%w: none of the %d roots of %s exists on this host", ErrNoRoots, len(roots), o.Config.Source)
	}
	m, err := o.Config.Matcher()
	if err != nil {
		return nil, err
	}
	return roots, checkDBOutside(dbPath, roots, m.Match)
}
