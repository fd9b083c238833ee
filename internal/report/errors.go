package report

import "errors"

var (
	// ErrNotReport means what [ReadSaved] read is not a complete report
	// written by [Writer] with Options.JSON (a saved 'vigil check --json').
	ErrNotReport = errors.New("not a 'vigil check --json' report")
	// ErrStale means a saved report no longer describes the host or the
	// baseline: what was reviewed is not what would be accepted.
	ErrStale = errors.New("the host or the baseline changed since the report was made; run check again and review")
)
