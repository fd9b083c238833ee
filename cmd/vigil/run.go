package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"vigil/internal/config"
	"vigil/store"
)

// version is vigil's version, recorded in every baseline.
var version = "0.1.0"

// env is what every command gets: parsed global flags and the output
// streams.
type env struct {
	configPath string
	dbPath     string
	quiet      bool
	stdout     io.Writer
	stderr     io.Writer
	log        zerolog.Logger
}

type command struct {
	name  string
	usage string
	run   func(ctx context.Context, e *env, args []string) int
}

var commands = []command{
	{"init", initUsage, runInit},
	{"check", checkUsage, runCheck},
	{"update", updateUsage, runUpdate},
	{"status", statusUsage, runStatus},
	{"verify", verifyUsage, runVerify},
	{"diff", diffUsage, runDiff},
	{"log", logUsage, runLog},
	{"compact", compactUsage, runCompact},
	{"migrate", migrateUsage, runMigrate},
	{"config", configUsage, runConfig},
	{"help", "", nil},
	{"version", "", nil},
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("vigil", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.configPath, "config", "", "configuration file")
	fs.StringVar(&e.dbPath, "db", "", "database file")
	fs.BoolVar(&e.quiet, "quiet", false, "no progress or informational messages")
	if err := fs.Parse(args); err != nil {
		return e.usage(err.Error())
	}
	level := zerolog.InfoLevel
	if e.quiet {
		level = zerolog.WarnLevel
	}
	e.log = zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: !isTerminal(stderr), PartsExclude: []string{zerolog.TimestampFieldName}}).Level(level)
	rest := fs.Args()
	if len(rest) == 0 {
		return e.usage("no command given")
	}
	switch rest[0] {
	case "help", "-h", "--help", "-help":
		return e.help(rest[1:])
	case "version":
		fmt.Fprintf(stdout, "vigil %s\n", version)
		return exitOK
	}
	for _, c := range commands {
		if c.name == rest[0] && c.run != nil {
			return c.run(ctx, e, rest[1:])
		}
	}
	return e.usage(fmt.Sprintf("unknown command %q", rest[0]))
}

// help prints the overview, or one command's usage.
func (e *env) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stdout, helpText)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] && c.usage != "" {
			fmt.Fprint(e.stdout, c.usage)
			return exitOK
		}
	}
	return e.usage(fmt.Sprintf("no help for %q", args[0]))
}

func (e *env) usage(msg string) int {
	fmt.Fprintf(e.stderr, "vigil: %s\nRun 'vigil help' for usage.\n", msg)
	return exitUsage
}

// fail reports err and returns its exit code.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "vigil: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	return exitCode(err)
}

// config loads the configuration and applies --db.
func (e *env) config() (*config.Config, error) {
	var c *config.Config
	if e.configPath == "" {
		c = config.Default()
	} else {
		var err error
		if c, err = config.Load(e.configPath); err != nil {
			return nil, err
		}
		e.checkOwner(e.configPath)
	}
	if e.dbPath != "" {
		p, err := filepath.Abs(e.dbPath)
		if err != nil {
			return nil, err
		}
		c.Database = p
	}
	return c, nil
}

// lockWait is how long a command waits for another vigil to let go of the
// database before it gives up (exit 24).
const lockWait = 5 * time.Minute

// open opens the database; for writing it creates its directory (0700).
func (e *env) open(c *config.Config, readOnly bool) (*store.DB, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(c.Database), 0o700); err != nil {
			return nil, err
		}
	}
	db, err := store.Open(c.Database, store.Options{ReadOnly: readOnly})
	if errors.Is(err, store.ErrLocked) {
		// Another vigil is writing (an update takes seconds to minutes):
		// a scheduled check should wait its turn, not fail.
		e.log.Info().Str("path", quote(c.Database)).Dur("wait", lockWait).Msg("database in use by another vigil; waiting")
		db, err = store.Open(c.Database, store.Options{ReadOnly: readOnly, Timeout: lockWait})
	}
	if readOnly && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run 'vigil init' first)", c.Database, store.ErrNoBaseline)
	}
	return db, err
}

// prepare parses a command's flags and PATH arguments, loads the
// configuration and opens the database.
func (e *env) prepare(fs *flag.FlagSet, args []string, readOnly bool) ([]string, *config.Config, *store.DB, error) {
	paths, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if paths, err = absPaths(paths); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := e.config()
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := e.open(cfg, readOnly)
	if err != nil {
		return nil, nil, nil, err
	}
	return paths, cfg, db, nil
}

// parseFlags parses fs from args, allowing flags after positional
// arguments ("check /etc --json"); "--" ends the flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		used := len(args) - len(fs.Args())
		if used > 0 && args[used-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// absPaths makes the PATH arguments absolute and clean.
func absPaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("%s: %v", p, err)}
		}
		out = append(out, a)
	}
	return out, nil
}

// checkOwner warns when a file that decides what vigil looks at could be
// changed by someone other than root.
func (e *env) checkOwner(path string) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return
	}
	if st.Mode&0o022 != 0 || (os.Geteuid() == 0 && st.Uid != 0) {
		e.log.Warn().Str("path", quote(path)).Msg("configuration file is writable by others than root: whoever can edit it can make vigil look away")
	}
}
