package main

import (
	"errors"

	"vigil/internal/engine"
	"vigil/internal/report"
)

// Exit codes, following AIDE's where they overlap.
const (
	exitOK      = 0
	exitAdded   = 1
	exitRemoved = 2
	exitChanged = 4
	// exitIncomplete is init's code for a baseline written with paths it
	// could not read (recorded with their error): the same bit as check's
	// "could not be verified".
	exitIncomplete = 4
	exitTampered   = 8
	exitInternal   = 14
	exitUsage      = 15
	exitConfig     = 17
	exitIO         = 18
	exitVersion    = 19
	exitKey        = 20
	exitDatabase   = 24
	exitInterrupt  = 130
)

// usageError is a bad command line; cmd, if set, is the command whose
// usage line answers it.
type usageError struct {
	msg string
	cmd *cmdDef
}

func (e *usageError) Error() string { return e.msg }

// kindCodes maps the engine's error kinds to exit codes: the one table.
var kindCodes = map[engine.Kind]int{
	engine.KindOther:       exitInternal,
	engine.KindUsage:       exitUsage,
	engine.KindConfig:      exitConfig,
	engine.KindDatabase:    exitDatabase,
	engine.KindSchema:      exitVersion,
	engine.KindTampered:    exitTampered,
	engine.KindUnsigned:    exitTampered,
	engine.KindKey:         exitKey,
	engine.KindIO:          exitIO,
	engine.KindInterrupted: exitInterrupt,
}

// errStale means what was reviewed or signed no longer describes the host or
// the baseline (a saved report, a phase statement): exit 15.
var errStale = report.ErrStale

// exitCode maps an error to the exit code scripts see: a bad command line,
// a saved report that is not one, or a stale one is a usage error;
// everything else by its kind.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, errStale), errors.Is(err, report.ErrNotReport):
		return exitUsage
	}
	return kindCodes[engine.KindOf(err)]
}

// diffCode returns check's exit code for a result.
func diffCode(res engine.Result) int {
	code := 0
	if res.Added > 0 || res.Moved > 0 {
		code |= exitAdded
	}
	if res.Removed > 0 || res.Moved > 0 {
		code |= exitRemoved
	}
	if res.Changed > 0 || res.Errors > 0 {
		code |= exitChanged
	}
	if res.Tampered != nil {
		code |= exitTampered
	}
	return code
}
