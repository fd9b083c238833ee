package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/internal/fimtest"
)

// migrateEnv names, in the environment of TestMigrateProcess, the database
// it migrates.
const migrateEnv = "VIGIL_STORE_TEST_MIGRATE"

// TestMigrateProcess is not a test but the process TestKill9Migrate kills:
// this test binary run again, migrating the database named by migrateEnv
// as vigil migrate does (Migrate), exiting 0 once done.
func TestMigrateProcess(t *testing.T) {
	path := os.Getenv(migrateEnv)
	if path == "" {
		return
	}
	if _, err := Migrate(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// migrate runs Migrate on path in a child process (TestMigrateProcess),
// kills it with SIGKILL after delay unless it is done, and reports whether
// it had completed by then; with delay < 0 it waits for the end and
// returns how long it took.
func migrate(t *testing.T, path string, delay time.Duration) (completed bool, took time.Duration) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestMigrateProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), migrateEnv+"="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the migration of %s: %v", path, err)
	}
	if delay >= 0 {
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("kill: %v", err)
		}
	}
	err = cmd.Wait()
	took = time.Since(start)
	if err == nil {
		return true, took
	}
	var ee *exec.ExitError
	if delay < 0 || !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("migrating %s (killed after %s): %v\n%s", path, delay, err, out.Bytes())
	}
	return false, took
}

// TestKill9Migrate kills a migration (Migrate, in a child process) at
// pseudo-random moments: the database at the path is always either the
// untouched schema 1 file or the complete migrated one. 3 kills in the
// short tier, 8 in the long one.
func TestKill9Migrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	tree := bigTree()
	writeV1(t, path, tree, tree[:len(tree)/2])
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, full := migrate(t, path, -1)
	r := rand.New(rand.NewPCG(5, 6))
	for round := range fimtest.Rounds(3, 8) {
		if err := os.WriteFile(path, pristine, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + ".v1")
		delay := time.Duration(r.Int64N(int64(full) + 1))
		completed, _ := migrate(t, path, delay)
		db, err := Open(path, Options{ReadOnly: true})
		switch {
		case errors.Is(err, ErrSchema) && !completed:
			if now, _ := os.ReadFile(path); !bytes.Equal(now, pristine) {
				t.Fatalf("round %d: killed after %s, the schema 1 file changed", round, delay)
			}
			migrate(t, path, -1) // and it can be run again
			db, err = Open(path, Options{ReadOnly: true})
		case err != nil:
			t.Fatalf("round %d: killed after %s (completed %v): Open: %v", round, delay, completed, err)
		}
		if err != nil {
			t.Fatalf("round %d: Open after migrating again: %v", round, err)
		}
		if err := db.Check(); err != nil {
			t.Fatalf("round %d: Check: %v", round, err)
		}
		if all, err := db.Baselines(); err != nil || len(all) != 2 {
			t.Fatalf("round %d: Baselines = %d, %v; want 2", round, len(all), err)
		}
		db.Close()
	}
}

// usedPages lists the pages of the database at path that hold meta, branch,
// leaf or freelist data.
func usedPages(t *testing.T, path string) []int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []int
	err = db.View(func(tx *bolt.Tx) error {
		for id := 0; ; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			if p.Type != "free" {
				out = append(out, id)
			}
		}
	})
	if err != nil || len(out) < 4 {
		t.Fatalf("used pages of %s: %v, %v", path, out, err)
	}
	t.Logf("%d used pages", len(out))
	return out
}
