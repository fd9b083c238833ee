package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stderrTail is how much of a failed tool's standard error goes into its
// [RunError].
const stderrTail = 2048

// Sample is one run of a tool.
type Sample struct {
	// Wall is the elapsed time from starting the child to reaping it.
	Wall time.Duration `json:"wall_ns"`
	// User and Sys are the CPU times of the child and its waited-for
	// descendants.
	User time.Duration `json:"user_ns"`
	Sys  time.Duration `json:"sys_ns"`
	// MaxRSS is ru_maxrss in KiB: the largest resident set of the child or of
	// any one descendant it waited for. For a child of the runner it is at
	// least the runner's own peak RSS (see [Options.GNUTime]).
	MaxRSS int64 `json:"max_rss_kib"`
}

// RunError is a failed run of a tool.
type RunError struct {
	Tool   string   // tool name
	Corpus string   // corpus name
	Argv   []string // the command
	Status int      // exit status; -1 if it did not start or was killed
	Stderr string   // the end of its standard error
	Err    error    // what went wrong
}

func (e *RunError) Error() string {
	var msg string
	switch {
	case e.Tool != "":
		msg = fmt.Sprintf("%s on %s: %v", e.Tool, e.Corpus, e.Err)
	case len(e.Argv) > 0:
		msg = fmt.Sprintf("%s: %v", e.Argv[0], e.Err)
	default:
		msg = e.Err.Error()
	}
	if e.Status >= 0 {
		msg += fmt.Sprintf(" (exit status %d)", e.Status)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// acceptZero accepts exit status 0 only.
func acceptZero(status int) error {
	if status != 0 {
		return ErrExitStatus
	}
	return nil
}

// measure runs argv with standard output discarded and standard error written
// to the file logPath, and times it. accept judges the exit status.
func measure(ctx context.Context, argv []string, logPath string, accept func(int) error) (Sample, error) {
	if len(argv) == 0 {
		return Sample{}, &RunError{Status: -1, Err: ErrEmptyCommand}
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return Sample{}, &RunError{Argv: argv, Status: -1, Err: err}
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = logf // an *os.File: no copying goroutine inside the timing
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		return Sample{}, &RunError{Argv: argv, Status: -1, Err: err}
	}
	s := sample(wall, cmd.ProcessState)
	status := cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exitErr):
		return s, &RunError{Argv: argv, Status: status, Err: err, Stderr: tail(logf)}
	case status < 0:
		err = fmt.Errorf("%w: %v", ErrExitStatus, cmd.ProcessState)
	default:
		err = accept(status)
	}
	if err != nil {
		return s, &RunError{Argv: argv, Status: status, Err: err, Stderr: tail(logf)}
	}
	return s, nil
}

// sample turns a finished child's state into a Sample.
func sample(wall time.Duration, ps *os.ProcessState) Sample {
	s := Sample{Wall: wall, User: ps.UserTime(), Sys: ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.MaxRSS = int64(ru.Maxrss)
	}
	return s
}

// tail returns the last stderrTail bytes of f on one line, or a note that it
// could not be read.
func tail(f *os.File) string {
	info, err := f.Stat()
	if err != nil {
		return "(stderr unreadable: " + err.Error() + ")"
	}
	off := max(info.Size()-stderrTail, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, stderrTail))
	if err != nil {
		return "(stderr unreadable: " + err.Error() + ")"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
