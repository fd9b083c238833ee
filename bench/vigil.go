package bench

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// vigilConfig is the part of vigil's config file the runner writes.
type vigilConfig struct {
	Database string   `toml:"database"`
	Roots    []string `toml:"roots"`
}

func vigilTool(name, vigil string) func(context.Context, Corpus, string) (*Command, error) {
	return func(_ context.Context, c Corpus, dir string) (*Command, error) {
		conf := filepath.Join(dir, "vigil.toml")
		db := filepath.Join(dir, "vigil.db")
		if err := writeVigilConfig(conf, vigilConfig{Database: db, Roots: []string{c.Root}}); err != nil {
			return nil, err
		}
		base := []string{vigil, "--config", conf, "--quiet"}
		initArgv := append(base[:len(base):len(base)], "init", "--force")
		switch name {
		case VigilInit:
			// A new database every time, as aide --init writes one: the
			// run measures taking a baseline, not replacing or pruning one.
			// The checkpoint vigil keeps beside the database goes too: a
			// new database under an old kept checkpoint is a rollback.
			setup := func(context.Context) error {
				return errors.Join(removeIfExists(db), removeIfExists(db+".checkpoint"))
			}
			return &Command{Argv: initArgv, Setup: setup, Database: db}, nil
		case VigilCheck:
			return vigilCheck(append(base, "check"), initArgv, db, dir), nil
		default:
			return vigilCheck(append(base, "check", "--full"), initArgv, db, dir), nil
		}
	}
}

// vigilCheck returns a check command whose setup makes the baseline, untimed,
// unless it exists.
func vigilCheck(argv, initArgv []string, db, dir string) *Command {
	setup := func(ctx context.Context) error {
		if _, err := os.Stat(db); err == nil {
			return nil
		}
		_, err := measure(ctx, initArgv, filepath.Join(dir, "setup.log"), acceptZero)
		return err
	}
	return &Command{Argv: argv, Setup: setup, Accept: acceptVigilCheck}
}

// acceptVigilCheck accepts exit status 0 only. vigil's statuses 1 to 7 (a
// bitmask of added, removed and changed) mean it saw differences in a tree
// that did not change; 14 and above are errors.
func acceptVigilCheck(status int) error {
	switch {
	case status == 0:
		return nil
	case status >= 1 && status <= 7:
		return ErrDifferences
	default:
		return ErrExitStatus
	}
}

func writeVigilConfig(path string, c vigilConfig) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := toml.NewEncoder(f).Encode(c); err != nil {
		return errors.Join(&fs.PathError{Op: "write", Path: path, Err: err}, f.Close())
	}
	return f.Close()
}
