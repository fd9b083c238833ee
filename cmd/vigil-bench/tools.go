package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"vigil/bench"
)

// selectTools finds or builds the programs of the requested tools. A missing
// program is an error for a tool named with -tools and a note on stderr
// otherwise.
func selectTools(ctx context.Context, cfg config, work string, stderr io.Writer) ([]bench.Tool, error) {
	names := cfg.tools
	if !cfg.explicit {
		names = bench.ToolNames()
	}
	r := resolver{cfg: cfg, work: work}
	var use []string
	var errs []error
	for _, name := range names {
		err := r.need(ctx, name)
		switch {
		case err == nil:
			use = append(use, name)
		case cfg.explicit:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		default:
			fmt.Fprintf(stderr, "vigil-bench: skipping %s: %v\n", name, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(use) == 0 {
		return nil, bench.ErrNothingToRun
	}
	return bench.Tools(use, r.bins)
}

// resolver fills in the programs of bench.Binaries, each at most once.
type resolver struct {
	cfg       config
	work      string
	bins      bench.Binaries
	vigilErr  error
	vigilDone bool
}

// need makes sure the program behind the tool name is there.
func (r *resolver) need(ctx context.Context, name string) error {
	var err error
	switch name {
	case bench.VigilInit, bench.VigilCheck, bench.VigilCheckFull:
		if !r.vigilDone {
			r.bins.Vigil, r.vigilErr = r.vigil(ctx)
			r.vigilDone = true
		}
		err = r.vigilErr
	case bench.AideInit, bench.AideCheck:
		r.bins.Aide, err = exec.LookPath("aide")
	case bench.B3sum:
		if _, err = exec.LookPath("bash"); err == nil {
			r.bins.B3sum, err = exec.LookPath("b3sum")
		}
	case bench.Find:
		_, err = exec.LookPath("find")
	case bench.FloorTool:
		var exe string
		exe, err = os.Executable()
		r.bins.Floor = []string{exe, "floor"}
	}
	return err
}

// vigil returns the absolute path of the -vigil binary, or builds
// ./cmd/vigil into the work directory.
func (r *resolver) vigil(ctx context.Context) (string, error) {
	if r.cfg.vigil != "" {
		path, err := exec.LookPath(r.cfg.vigil)
		if err != nil {
			return "", err
		}
		return filepath.Abs(path)
	}
	out := filepath.Join(r.work, "vigil")
	var msg bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/vigil")
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/vigil: %w: %s", err, strings.TrimSpace(msg.String()))
	}
	return out, nil
}
