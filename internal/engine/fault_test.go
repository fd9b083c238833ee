//go:build linux

package engine_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/fsys"
	"vigil/store"
)

// fromNth fails every write from the Nth on with err: a disk that is full
// stays full.
type fromNth struct {
	n, seen int
	err     error
}

func (f *fromNth) Inject(op fsys.Op, path string) error {
	if op != fsys.Write {
		return nil
	}
	if f.seen++; f.seen >= f.n {
		return f.err
	}
	return nil
}

// faultTree is the tree the fault tests baseline, and change changes it.
var faultTree = fimtest.Tree{
	"etc/passwd":          fimtest.File("root:x:0:0::/root:/bin/sh\n"),
	"etc/ssh/sshd_config": fimtest.File("PermitRootLogin no\n"),
	"bin/su":              fimtest.File("\x7fELF su").Mode(0o4755),
	"lib/libc.so":         fimtest.File("\x7fELF libc"),
}

func changeFaultTree(t *testing.T, root string) {
	t.Helper()
	for p, data := range map[string]string{"etc/ssh/sshd_config": "PermitRootLogin yes\n", "etc/cron.d/persist": "* * * * * root sh\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(root, "lib/libc.so")); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies the closed database src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateInitFaults fails every write transaction of an init and of an
// update, one at a time and from one on (a full disk), with EIO and
// ENOSPC: the operation fails naming the database, and what was recorded
// is intact: the database passes its consistency check, its current
// baseline is the previous one (or, for a failure after the switch, the
// new one, whole), and the same operation without faults then succeeds
// with the baseline the faultless run wrote.
func TestUpdateInitFaults(t *testing.T) {
	root := t.TempDir()
	faultTree.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "vigil.db")
	cfg := parseConfig(t, dbPath, root)
	open := func(t *testing.T, faults fsys.Injector) *fixture {
		t.Helper()
		db, err := store.Open(dbPath, store.Options{Faults: faults})
		if err != nil {
			t.Fatalf("store.Open(%s): %v", dbPath, err)
		}
		return &fixture{root: root, cfg: cfg, db: db}
	}
	closeDB := func(t *testing.T, f *fixture) {
		t.Helper()
		if err := f.db.Close(); err != nil {
			t.Fatalf("db.Close() = %v", err)
		}
	}

	// Each operation runs once without faults, recording its commits and
	// the root it wrote, then once per commit that fails.
	recInit := &fsys.Fail{}
	f := open(t, recInit)
	f.init(t)
	initRoot := current(t, f.db)
	closeDB(t, f)
	afterInit := filepath.Join(dir, "after-init.db")
	copyFile(t, dbPath, afterInit)
	// The first commit is store.Open's own (its buckets).
	faultLoop(t, "Init", engine.Init, len(recInit.Calls()), "", store.RootHash{}, initRoot, open, closeDB)

	fimtest.SleepPastRacy()
	changeFaultTree(t, root)
	copyFile(t, afterInit, dbPath)
	recUpdate := &fsys.Fail{}
	f = open(t, recUpdate)
	f.update(t, f.opts())
	updateRoot := current(t, f.db)
	closeDB(t, f)
	if initRoot == updateRoot {
		t.Fatalf("the update wrote root %s, the init's", updateRoot)
	}
	faultLoop(t, "Update", engine.Update, len(recUpdate.Calls()), afterInit, initRoot, updateRoot, open, closeDB)
}

// faultLoop runs fn once per commit (of the commits a faultless run made)
// that fails, alone and with every later one, with EIO and with ENOSPC,
// each time from the database start (none if ""), and checks what is left
// (see TestUpdateInitFaults).
func faultLoop(t *testing.T, name string, fn operation, commits int, start string, before, after store.RootHash,
	open func(*testing.T, fsys.Injector) *fixture, closeDB func(*testing.T, *fixture)) {
	if commits < 2 {
		t.Fatalf("%s made %d commits, want several", name, commits)
	}
	for _, errno := range []unix.Errno{unix.EIO, unix.ENOSPC} {
		for n := 1; n <= commits; n++ {
			for _, sticky := range []bool{false, true} {
				sub := fmt.Sprintf("%s/%v/commit-%d", name, errno, n)
				if sticky {
					sub += "-on"
				}
				t.Run(sub, func(t *testing.T) {
					faultOnce(t, name, fn, start, before, after, errno, n, sticky, open, closeDB)
				})
			}
		}
	}
}

func faultOnce(t *testing.T, name string, fn operation, start string, before, after store.RootHash, errno unix.Errno, n int, sticky bool,
	open func(*testing.T, fsys.Injector) *fixture, closeDB func(*testing.T, *fixture)) {
	probe := open(t, nil) // only for its paths
	dbPath := probe.db.Path()
	closeDB(t, probe)
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	if start != "" {
		copyFile(t, start, dbPath)
	}
	var inj fsys.Injector = &fsys.Fail{Op: fsys.Write, Nth: n, Err: errno}
	if sticky {
		inj = &fromNth{n: n, err: errno}
	}
	db, err := store.Open(dbPath, store.Options{Faults: inj})
	if err == nil {
		f := &fixture{root: probe.root, cfg: probe.cfg, db: db}
		o := f.opts()
		o.Force = true
		_, _, _, err = f.try(t, fn, o)
		closeDB(t, f)
	}
	if err == nil {
		t.Fatalf("store.Open and engine.%s with %v at commit %d = nil error", name, errno, n)
	}
	if !errors.Is(err, errno) {
		t.Errorf("engine.%s = %v, want it to wrap %v", name, err, errno)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != dbPath {
		t.Errorf("engine.%s = %v, want it to name %s", name, err, dbPath)
	}

	f := open(t, nil)
	defer closeDB(t, f)
	if err := f.db.Check(); err != nil {
		t.Fatalf("after the fault, db.Check() = %v", err)
	}
	got, err := currentRoot(f.db)
	switch {
	case errors.Is(err, store.ErrNoBaseline) && before == (store.RootHash{}):
	case err != nil:
		t.Fatalf("after the fault, the current baseline: %v", err)
	case got != before && got != after:
		t.Fatalf("after the fault, the current root is %s, want the previous %s or the new %s", got, before, after)
	}
	// The same operation, without faults, writes what the faultless run
	// wrote.
	o := f.opts()
	o.Force = true
	if _, _, _, err := f.try(t, fn, o); err != nil {
		t.Fatalf("engine.%s after the fault = %v", name, err)
	}
	if got := current(t, f.db); got != after {
		t.Errorf("engine.%s after the fault wrote root %s, want %s", name, got, after)
	}
	if err := f.db.Check(); err != nil {
		t.Errorf("after the second %s, db.Check() = %v", name, err)
	}
}

func currentRoot(db *store.DB) (store.RootHash, error) {
	b, err := db.Current()
	if err != nil {
		return store.RootHash{}, err
	}
	return b.Info().Root, nil
}

func current(t *testing.T, db *store.DB) store.RootHash {
	t.Helper()
	r, err := currentRoot(db)
	if err != nil {
		t.Fatalf("db.Current() = %v", err)
	}
	return r
}
