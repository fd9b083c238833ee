package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Why peak RSS is measured under GNU time: Go starts children with
// clone(CLONE_VM|CLONE_VFORK), so until exec the child runs in the runner's
// memory, and Linux records that memory's high-water mark in the child's
// ru_maxrss when it execs. The rusage of a child started by the runner thus
// never reports less than the runner's own peak RSS. GNU time forks its child
// from a process of about 1 MiB, which makes the floor small enough to be
// ignored, but it costs a few milliseconds of wall time per run, so only the
// untimed warm-up runs under it.

// findGNUTime returns the GNU time binary at path, or found in $PATH as
// "time" when path is empty, after checking that it writes %M to a file.
// It returns "" and no error when path is empty and no working GNU time is
// found.
func findGNUTime(ctx context.Context, path, dir string) (string, error) {
	auto := path == ""
	if auto {
		p, err := exec.LookPath("time")
		if err != nil {
			return "", nil
		}
		path = p
	}
	if err := probeGNUTime(ctx, path, dir); err != nil {
		if auto {
			return "", nil
		}
		return "", err
	}
	return path, nil
}

// probeGNUTime runs `true` under the time binary at path.
func probeGNUTime(ctx context.Context, path, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(dir, "time-probe.rss")
	argv := timeArgv(path, out, []string{"true"})
	if _, err := measure(ctx, argv, filepath.Join(dir, "time-probe.log"), acceptZero); err != nil {
		return err
	}
	_, err := readRSS(out)
	return err
}

// timeArgv returns argv run under GNU time, which writes the peak RSS in
// KiB to out.
func timeArgv(gnuTime, out string, argv []string) []string {
	return append([]string{gnuTime, "-f", "%M", "-o", out, "--"}, argv...)
}

// readRSS reads the number that GNU time wrote on the last line of path
// (earlier lines note a non-zero exit status or a signal).
func readRSS(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	kib, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if err != nil {
		return 0, &fs.PathError{Op: "read rss", Path: path, Err: fmt.Errorf("%w: %q", ErrNoRSS, data)}
	}
	return kib, nil
}

// selfMaxRSS returns the runner's own peak RSS in KiB, or 0 if getrusage
// fails.
func selfMaxRSS() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Maxrss)
}
