package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/store"
)

// version is vigil's version, recorded in every baseline.
var version = "0.1.0"

// systemConfig is the configuration file read when --config is not given,
// if it exists; defaultDatabase is the embedded default's database.
const (
	systemConfig    = "/etc/vigil/vigil.toml"
	defaultDatabase = config.DefaultDatabase
)

// env is what every command gets: parsed global flags and the output
// streams.
type env struct {
	configPath string
	dbPath     string
	quiet      bool
	// sysConfig is the configuration file read by default (systemConfig;
	// tests point it elsewhere).
	sysConfig string
	stdout    io.Writer
	stderr    io.Writer
	log       zerolog.Logger
	// jsonLog says the log (and failures) go to stderr as JSON lines.
	jsonLog bool
	// afterUpdate, if set, says what an update left pending.
	afterUpdate func()
	// agent is the host's fleet agent, once made (see fleetAgent).
	agent *fleet.Agent
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, systemConfig, args, stdout, stderr)
}

// runWith is run with sysConfig as the default configuration file.
func runWith(ctx context.Context, sysConfig string, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, sysConfig: sysConfig}
	defer func() {
		if e.agent != nil {
			e.agent.Close()
		}
	}()
	inv, err := parse(args)
	e.configPath, e.dbPath, e.quiet = inv.str("config"), inv.str("db"), inv.bool("quiet")
	e.jsonLog = inv.bool("json")
	e.log = newLogger(stderr, e.quiet, e.jsonLog)
	switch {
	case err != nil:
		return e.fail(err)
	case inv.bool("version"):
		return runVersion(ctx, e, inv)
	case inv.cmd == nil && inv.bool("help"):
		return e.help(nil)
	case inv.cmd == nil:
		return e.fail(&usageError{msg: "no command given"})
	case inv.bool("help"):
		return e.help([]string{inv.cmd.name})
	case inv.cmd.name == "help":
		return e.help(inv.args)
	}
	return inv.cmd.run(ctx, e, inv)
}

// newLogger logs to stderr: console lines for people, JSON lines when the
// command's output is JSON.
func newLogger(stderr io.Writer, quiet, jsonOut bool) zerolog.Logger {
	level := zerolog.InfoLevel
	if quiet {
		level = zerolog.WarnLevel
	}
	if jsonOut {
		return zerolog.New(stderr).Level(level).With().Timestamp().Logger()
	}
	w := zerolog.ConsoleWriter{Out: stderr, NoColor: !isTerminal(stderr), PartsExclude: []string{zerolog.TimestampFieldName}}
	return zerolog.New(w).Level(level)
}

// fail reports err and returns its exit code; a bad command line is
// answered with the usage line.
func (e *env) fail(err error) int {
	code := exitCode(err)
	var ue *usageError
	isUsage := errors.As(err, &ue)
	if e.jsonLog {
		ev := e.log.Error().Int("exit_code", code)
		if isUsage {
			ev = ev.Str("usage", synopsis(ue.cmd))
		}
		ev.Msg(err.Error())
		return code
	}
	fmt.Fprintf(e.stderr, "vigil: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	if isUsage {
		name := ""
		if ue.cmd != nil {
			name = " " + ue.cmd.name
		}
		fmt.Fprintf(e.stderr, "usage: %s\nRun 'vigil help%s' for details.\n", synopsis(ue.cmd), name)
	}
	return code
}

// config loads the configuration and applies --db: --config FILE, else
// e.sysConfig if it exists, else the embedded default.
func (e *env) config() (*config.Config, error) {
	path := e.configPath
	if path == "" {
		if _, err := os.Stat(e.sysConfig); err == nil {
			path = e.sysConfig
		}
	}
	var c *config.Config
	if path == "" {
		c = config.Default()
	} else {
		var err error
		if c, err = config.Load(path); err != nil {
			return nil, err
		}
		e.checkOwner(path)
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

// openDB opens the engine's database (see open).
func (e *env) openDB(eng *engine.Engine, readOnly, create bool) (*store.DB, error) {
	return e.openPath(eng.Config().Database, readOnly, create)
}

// open opens the database of c, for the commands that read or maintain the
// database and take no trust decision: they need neither the matcher nor
// the pinned key.
func (e *env) open(c *config.Config, readOnly, create bool) (*store.DB, error) {
	return e.openPath(c.Database, readOnly, create)
}

// openPath opens the database at path. Only init and seal (create) may
// create it, with its directory (0700); for every other command a missing
// database is "no baseline", and nothing is created. A database another
// vigil holds is waited for (up to lockWait).
func (e *env) openPath(path string, readOnly, create bool) (*store.DB, error) {
	db, err := engine.OpenDB(path, readOnly, create, 0)
	if errors.Is(err, store.ErrLocked) {
		// Another vigil is writing (an update takes seconds to minutes):
		// a scheduled check should wait its turn, not fail.
		e.log.Info().Str("path", quote(path)).Dur("wait", lockWait).Msg("database in use by another vigil; waiting")
		db, err = engine.OpenDB(path, readOnly, create, lockWait)
	}
	if err == nil {
		for _, w := range db.Warnings() {
			e.log.Warn().Err(w).Msg("database")
		}
	}
	return db, err
}

// dbError makes sure a database error names the database.
func dbError(path string, err error) error {
	var pe *fs.PathError
	if err == nil || (errors.As(err, &pe) && pe.Path == path) {
		return err
	}
	for _, s := range []error{store.ErrNoBaseline, store.ErrCorrupt, store.ErrSchema, store.ErrNotFound, store.ErrTampered, store.ErrLocked} {
		if errors.Is(err, s) {
			return fmt.Errorf("database %s: %w", path, err)
		}
	}
	return err
}

// absPaths makes the PATH arguments absolute and clean.
func absPaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("%s: %v", p, err)}
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

// database is the start of the commands that read or maintain the database
// rather than scan: no more than maxArgs arguments, the configuration, the
// database opened (read-only unless a maintenance command writes it).
func (e *env) database(inv *invocation, readOnly bool, maxArgs int) (*config.Config, *store.DB, error) {
	if len(inv.args) > maxArgs {
		msg := inv.cmd.name + " takes no arguments"
		if maxArgs > 0 {
			msg = fmt.Sprintf("%s takes at most %d arguments", inv.cmd.name, maxArgs)
		}
		return nil, nil, &usageError{msg: msg, cmd: inv.cmd}
	}
	cfg, err := e.config()
	if err != nil {
		return nil, nil, err
	}
	db, err := e.open(cfg, readOnly, false)
	return cfg, db, err
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Sync(), f.Close())
}

func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}
