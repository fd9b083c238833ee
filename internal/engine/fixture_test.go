package engine_test

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// change is what a test asserts about one reported change.
type change struct {
	Action string
	// Path is relative to the fixture's root ("." for the root itself);
	// paths outside it stay absolute.
	Path string
	// From is the old path of a move, relative as Path.
	From    string
	Changed []string // vigil.changed: the attribute names
}

// scanError is one path an operation could not (fully) read.
type scanError struct {
	path string // relative, as change.Path
	err  error
}

// fixture is a scanned tree in one temporary directory and a database in
// another.
type fixture struct {
	root string
	cfg  *config.Config
	db   *store.DB
}

// newFixture makes tree in a new temporary directory and opens an empty
// database beside it, with a configuration watching the tree. The database
// is checked for consistency when the test ends.
func newFixture(t *testing.T, tree fimtest.Tree) *fixture {
	t.Helper()
	root := t.TempDir()
	tree.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	dbPath := filepath.Join(t.TempDir(), "vigil.db")
	f := &fixture{root: root, cfg: parseConfig(t, dbPath, root)}
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatalf("store.Open(%s): %v", dbPath, err)
	}
	f.db = db
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("after the test, db.Check() = %v, want nil", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("db.Close() = %v", err)
		}
	})
	return f
}

// parseConfig returns the configuration watching root with the database at
// dbPath.
func parseConfig(t *testing.T, dbPath, root string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("database = %q\nroots = [%q]\n", dbPath, root)
	c, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	return c
}

// path returns the absolute path of rel in the tree.
func (f *fixture) path(rel string) string { return filepath.Join(f.root, rel) }

// rel returns p relative to the root, "." for the root, or p itself when it
// lies outside.
func (f *fixture) rel(p string) string {
	if p == f.root {
		return "."
	}
	if r, ok := strings.CutPrefix(p, f.root+"/"); ok {
		return r
	}
	return p
}

func (f *fixture) opts() engine.Options {
	return engine.Options{Config: f.cfg, Host: "testhost", Version: "test"}
}

// operation is engine.Init, engine.Check or engine.Update.
type operation func(context.Context, *store.DB, engine.Options) (engine.Result, error)

// op runs an engine operation with o, collecting what it reports. It fails
// the test if the operation fails or does not return within minutes (a
// scan that blocks, on a FIFO say, must fail the test, not hang it).
func (f *fixture) op(t *testing.T, name string, fn operation, o engine.Options) ([]change, []scanError, engine.Result) {
	t.Helper()
	changes, errs, res, err := f.try(t, fn, o)
	if err != nil {
		t.Fatalf("engine.%s: %v", name, err)
	}
	return changes, errs, res
}

// try is op without failing on the operation's error.
func (f *fixture) try(t *testing.T, fn operation, o engine.Options) ([]change, []scanError, engine.Result, error) {
	t.Helper()
	var changes []change
	var errs []scanError
	rep, _ := o.Report.(engine.Funcs)
	rep.OnChange = func(c merkle.Change) error {
		changes = append(changes, f.summarize(c))
		return nil
	}
	rep.OnError = func(p string, err error) error {
		errs = append(errs, scanError{f.rel(p), err})
		return nil
	}
	o.Report = rep
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	type result struct {
		res engine.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := fn(ctx, f.db, o)
		done <- result{res, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(4 * time.Minute):
		t.Fatal("the operation did not return within four minutes")
	}
	return changes, errs, r.res, r.err
}

func (f *fixture) summarize(c merkle.Change) change {
	out := change{Action: c.Action.String(), Path: f.rel(c.Path), Changed: c.Changed.Names()}
	if c.Action == merkle.Moved {
		out.From = f.rel(c.Old.Path)
	}
	return out
}

// init takes the first baseline. It then waits a little, so that the
// changes the test makes next carry a later ctime even where the kernel
// stamps inodes from a coarse clock.
func (f *fixture) init(t *testing.T) engine.Result {
	t.Helper()
	changes, errs, res := f.op(t, "Init", engine.Init, f.opts())
	if len(errs) != 0 {
		t.Fatalf("engine.Init reported errors %v, want none", errs)
	}
	// A first baseline is the initial state, not a flood of creations.
	if len(changes) != 0 || res.Added != 0 {
		t.Fatalf("engine.Init reported %d changes, Added = %d; want none", len(changes), res.Added)
	}
	if !res.Written {
		t.Fatalf("engine.Init: Written = false, want true")
	}
	time.Sleep(10 * time.Millisecond)
	return res
}

func (f *fixture) check(t *testing.T, o engine.Options) ([]change, []scanError, engine.Result) {
	t.Helper()
	return f.op(t, "Check", engine.Check, o)
}

func (f *fixture) update(t *testing.T, o engine.Options) ([]change, []scanError, engine.Result) {
	t.Helper()
	return f.op(t, "Update", engine.Update, o)
}

// entry returns the current baseline's entry at rel, nil if it has none.
func (f *fixture) entry(t *testing.T, rel string) *merkle.Entry {
	t.Helper()
	b, err := f.db.Current()
	if err != nil {
		t.Fatalf("db.Current(): %v", err)
	}
	n, ok, err := b.Node(f.path(rel))
	if err != nil {
		t.Fatalf("Baseline.Node(%q): %v", f.path(rel), err)
	}
	if !ok {
		return nil
	}
	return n.Entry
}

// sortChanges orders changes by path, then action, for comparison.
func sortChanges(cs []change) []change {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b change) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Action, b.Action))
	})
	return cs
}

// ch is a wanted change at rel with the attributes in changed.
func ch(action merkle.Action, rel string, changed merkle.Attr) change {
	return change{Action: action.String(), Path: rel, Changed: changed.Names()}
}

// moved is a wanted move from one relative path to another.
func moved(from, to string, changed merkle.Attr) change {
	return change{Action: merkle.Moved.String(), Path: to, From: from, Changed: changed.Names()}
}

// statsOpts returns options that count into a fresh scanner.Stats.
func (f *fixture) statsOpts() (engine.Options, *scanner.Stats) {
	o := f.opts()
	o.Stats = new(scanner.Stats)
	return o, o.Stats
}
