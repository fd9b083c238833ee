package bench

import "errors"

var (
	// ErrTimeout means an awaited event did not arrive in time.
	ErrTimeout = errors.New("timed out waiting for an event")
	// ErrUnknownTool means a tool name is not one of [ToolNames].
	ErrUnknownTool = errors.New("unknown tool")
	// ErrNoFloor means the floor tool was asked for without a command to run
	// it ([Binaries.Floor]).
	ErrNoFloor = errors.New("no command for the floor tool")
	// ErrExitStatus means a tool exited with a status that its definition
	// does not accept, or was killed by a signal.
	ErrExitStatus = errors.New("unexpected exit status")
	// ErrDifferences means a check reported differences on a tree that has not
	// changed since its baseline.
	ErrDifferences = errors.New("differences reported on an unchanged tree")
	// ErrNeedRoot means cold-cache runs were asked for by a user who cannot
	// drop the page cache.
	ErrNeedRoot = errors.New("dropping the page cache needs root")
	// ErrUnsafePath means a path holds characters that cannot be written
	// verbatim into an aide.conf rule or URL.
	ErrUnsafePath = errors.New("path cannot be used in an aide config")
	// ErrNothingToRun means a run was given no corpus or no tool.
	ErrNothingToRun = errors.New("no corpus or no tool to run")
	// ErrFileCount means a generated tree was asked for with fewer than one
	// file.
	ErrFileCount = errors.New("file count must be positive")
	// ErrEmptyCommand means a [Command] has no Argv.
	ErrEmptyCommand = errors.New("empty command")
	// ErrNoRSS means GNU time did not write a peak RSS.
	ErrNoRSS = errors.New("no peak RSS in the output of GNU time")
	// ErrExists means a corpus was to be written to a path that already
	// exists.
	ErrExists = errors.New("corpus path already exists")
)
