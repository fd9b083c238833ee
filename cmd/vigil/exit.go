package main

import (
	"context"
	"errors"
	"io/fs"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/store"
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

// exitCode maps an error to the exit code scripts see.
func exitCode(err error) int {
	var ue *usageError
	var pe *fs.PathError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupt
	case errors.As(err, &ue), errors.Is(err, engine.ErrExists), errors.Is(err, engine.ErrOutside),
		errors.Is(err, engine.ErrNoPath), errors.Is(err, errStale), errors.Is(err, store.ErrAmbiguous),
		errors.Is(err, engine.ErrHardened):
		return exitUsage
	case errors.Is(err, config.ErrInvalid), errors.Is(err, engine.ErrDBInside), errors.Is(err, engine.ErrNoRoots):
		return exitConfig
	case errors.Is(err, engine.ErrKey):
		return exitKey
	case errors.Is(err, store.ErrTampered):
		return exitTampered
	case errors.Is(err, store.ErrSchema):
		return exitVersion
	case errors.Is(err, store.ErrNoBaseline), errors.Is(err, store.ErrLocked),
		errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUnsafe),
		errors.Is(err, engine.ErrStateUnsafe):
		return exitDatabase
	case errors.As(err, &pe):
		return exitIO
	}
	return exitInternal
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
