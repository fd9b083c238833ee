package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
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
	"vigil/store"
)

// vigilBin runs the vigil binary against one database.
type vigilBin struct {
	t       *testing.T
	bin, db string
}

func (v vigilBin) command(args ...string) (*exec.Cmd, *bytes.Buffer) {
	var out bytes.Buffer
	cmd := exec.Command(v.bin, append([]string{"--db", v.db, "--quiet"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd, &out
}

// run runs vigil to completion and fails the test unless it exits 0.
func (v vigilBin) run(args ...string) time.Duration {
	v.t.Helper()
	cmd, out := v.command(args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		v.t.Fatalf("vigil %q: %v\n%s", args, err, out)
	}
	return time.Since(start)
}

// status returns the current baseline as `vigil status --json` reports it.
func (v vigilBin) status() store.Info {
	v.t.Helper()
	cmd, out := v.command("status", "--json")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		v.t.Fatalf("vigil status --json: %v\n%s", err, out)
	}
	var st struct {
		Current store.Info `json:"current"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		v.t.Fatalf("vigil status --json: %v\n%s", err, out)
	}
	return st.Current
}

// killAfter starts vigil, kills it with SIGKILL after delay and reports
// whether it had completed (exit 0) by then.
func (v vigilBin) killAfter(delay time.Duration, args ...string) bool {
	v.t.Helper()
	cmd, out := v.command(args...)
	if err := cmd.Start(); err != nil {
		v.t.Fatalf("starting vigil %q: %v", args, err)
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		v.t.Fatalf("kill: %v", err)
	}
	err := cmd.Wait()
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		v.t.Fatalf("vigil %q (killed after %s): %v\n%s", args, delay, err, out)
	}
	return false
}

// makeFiles creates dirs×files small files under root.
func makeFiles(t *testing.T, root string, dirs, files int) {
	t.Helper()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), fmt.Appendf(nil, "%d/%d\n", d, f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// modify rewrites some files, adds one and removes one.
func modify(t *testing.T, r *rand.Rand, root string, round, dirs, files int) {
	t.Helper()
	pick := func() string {
		return filepath.Join(root, fmt.Sprintf("d%03d", r.IntN(dirs)), fmt.Sprintf("f%03d", r.IntN(files)))
	}
	for range 50 {
		if err := os.WriteFile(pick(), fmt.Appendf(nil, "round %d\n", round), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	added := filepath.Join(root, fmt.Sprintf("d%03d", r.IntN(dirs)), fmt.Sprintf("new%02d", round))
	if err := os.WriteFile(added, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pick()); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// TestKill9 kills vigil init, update (whole, scoped; each prunes beyond the
// default five baselines) and compact at pseudo-random moments and checks
// after each kill that the database opens, passes its consistency check and
// still has as current baseline the one of the last run that completed (or,
// if the kill came after the final commit, the killed run's own).
//
// 3 kills in a tree of 2,000 files in the short tier, 40 in one of 20,000
// in the long one.
func TestKill9(t *testing.T) {
	const files = 100
	dirs, rounds := fimtest.Rounds(20, 200), fimtest.Rounds(3, 40)
	tmp := t.TempDir()
	v := vigilBin{t: t, bin: vigilBinary(t), db: filepath.Join(tmp, "db", "vigil.db")}
	root := filepath.Join(tmp, "root")
	makeFiles(t, root, dirs, files)

	v.run("init", root)
	r := rand.New(rand.NewPCG(2025, 9))
	dur := map[string]time.Duration{"init": v.run("init", "--force", root)}
	modify(t, r, root, 0, dirs, files)
	dur["update"] = v.run("update", root)
	modify(t, r, root, 0, dirs, files)
	dur["update-all"] = v.run("update")
	dur["compact"] = v.run("compact")
	last := v.status()
	t.Logf("a full run takes %v", dur)

	for round := 1; round <= rounds; round++ {
		var args []string
		kind := "compact"
		switch r.IntN(4) {
		case 0:
			args, kind = []string{"init", "--force", root}, "init"
		case 1:
			modify(t, r, root, round, dirs, files)
			args, kind = []string{"update", root}, "update" // scoped to the root
		case 2:
			modify(t, r, root, round, dirs, files)
			args, kind = []string{"update"}, "update-all"
		default:
			args = []string{"compact"}
		}
		delay := time.Duration(r.Int64N(int64(dur[kind]) + 1))
		completed := v.killAfter(delay, args...)
		if completed {
			last = v.status()
		}
		last = checkAfterKill(t, v, last, completed, fmt.Sprintf("round %d (%s, SIGKILL after %s, had completed: %v)", round, args[0], delay, completed), root)
	}
	// The next writer deletes what a killed one left.
	modify(t, r, root, rounds+1, dirs, files)
	v.run("update", root)
	db, err := store.Open(v.db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("Check after a completed update: %v", err)
	}
	if n := len(incompleteIDs(t, v.db)); n != 0 {
		t.Errorf("%d unfinished baselines left after a completed update, want 0", n)
	}
}

// checkAfterKill opens the database after a kill and checks it; it returns
// the baseline now current.
func checkAfterKill(t *testing.T, v vigilBin, last store.Info, completed bool, round, root string) store.Info {
	t.Helper()
	db, err := store.Open(v.db, store.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("%s: Open: %v", round, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("%s: Check: %v", round, err)
	}
	cur, err := db.Current()
	if err != nil {
		t.Fatalf("%s: Current: %v", round, err)
	}
	in := cur.Info()
	dead := incompleteIDs(t, v.db)
	if len(dead) > 1 || len(dead) == 1 && dead[0] <= in.ID {
		t.Fatalf("%s: unfinished baselines %v with current %d; want at most one, newer than current", round, dead, in.ID)
	}
	t.Logf("%s: current %d, unfinished %v", round, in.ID, dead)
	all, err := db.Baselines()
	if err != nil {
		t.Fatalf("%s: Baselines: %v", round, err)
	}
	if len(all) == 0 || all[len(all)-1].ID != in.ID || len(all) > 5 {
		t.Fatalf("%s: Baselines() = %+v; want at most 5 (the default keep), ending with the current %d", round, all, in.ID)
	}
	for _, b := range all {
		if !b.Complete {
			t.Fatalf("%s: Baselines() lists the unfinished baseline %d", round, b.ID)
		}
	}
	switch {
	case in.ID == last.ID:
		if in.Root != last.Root {
			t.Fatalf("%s: current baseline %d has root %s, vigil status said %s", round, in.ID, in.Root, last.Root)
		}
		return last
	case !completed && in.ID > last.ID && in.Parent == last.ID:
		// Killed after its final commit: the new baseline must describe
		// the tree as it is.
		db.Close()
		cmd, out := v.command("check", root)
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: the killed run's baseline %d is current, but vigil check: %v\n%s", round, in.ID, err, out)
		}
		t.Logf("%s: killed after committing baseline %d", round, in.ID)
		return in
	}
	t.Fatalf("%s: current baseline is %d (parent %d), want %d, the last completed", round, in.ID, in.Parent, last.ID)
	return last
}

// incompleteIDs lists the baselines left unfinished in the database at
// path, read with bbolt (the store lists complete baselines only): each
// key of the baselines bucket is an id, its value the baseline's info.
func incompleteIDs(t *testing.T, path string) []uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids []uint64
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("baselines")).ForEach(func(k, v []byte) error {
			var in store.Info
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("baseline %x: %w", k, err)
			}
			if !in.Complete {
				ids = append(ids, binary.BigEndian.Uint64(k))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("baselines of %s: %v", path, err)
	}
	return ids
}

// TestCorruptDatabase damages copies of a real database (single-byte
// flips, zeroed pages, truncation) and runs vigil check and verify on each:
// never a crash, a hang or an undocumented exit code, whatever the damage.
//
// 9 damaged copies in the short tier, 90 in the long one.
func TestCorruptDatabase(t *testing.T) {
	tmp := t.TempDir()
	v := vigilBin{t: t, bin: vigilBinary(t), db: filepath.Join(tmp, "pristine.db")}
	root := filepath.Join(tmp, "root")
	makeFiles(t, root, 20, 50)
	v.run("init", root)
	r := rand.New(rand.NewPCG(11, 12))
	modify(t, r, root, 1, 20, 50)
	v.run("update")
	pristine, err := os.ReadFile(v.db)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	used := usedPages(t, v.db)
	for i := range fimtest.Rounds(9, 90) {
		b := bytes.Clone(pristine)
		var what string
		switch i % 3 {
		case 0: // a flip in a page that holds data
			off := used[r.IntN(len(used))]*page + r.IntN(page)
			b[off] ^= byte(1 << r.IntN(8))
			what = fmt.Sprintf("bit flipped at %d", off)
		case 1: // the used pages zeroed one at a time
			p := used[(i/3)%len(used)]
			clear(b[p*page : (p+1)*page])
			what = fmt.Sprintf("used page %d zeroed", p)
		default:
			n := r.IntN(len(b))
			b = b[:n]
			what = fmt.Sprintf("truncated to %d bytes", n)
		}
		db := filepath.Join(tmp, fmt.Sprintf("damaged-%d.db", i))
		if err := os.WriteFile(db, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"check", root}, {"verify"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, v.bin, append([]string{"--db", db, "--quiet"}, args...)...)
			out, err := cmd.CombinedOutput()
			hung := ctx.Err() != nil
			cancel()
			code := cmd.ProcessState.ExitCode()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("%s: vigil %v: %v", what, args, err)
			}
			switch {
			case hung:
				t.Errorf("%s: vigil %v hung (killed after 30 s)", what, args)
			case bytes.Contains(out, []byte("goroutine ")) || bytes.HasPrefix(out, []byte("panic:")) || code < 0:
				t.Errorf("%s: vigil %v crashed (exit %d):\n%s", what, args, code, out)
			case code > 15 && code != 24 && code != 19:
				t.Errorf("%s: vigil %v exited %d, not a documented code for a damaged database:\n%s", what, args, code, out)
			case code == 14:
				t.Errorf("%s: vigil %v exited 14 (internal error):\n%s", what, args, out)
			}
		}
		os.Remove(db)
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
