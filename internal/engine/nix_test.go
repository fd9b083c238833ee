//go:build linux

package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/nix"
	"vigil/scanner"
	"vigil/store"
)

// TestNixRehash: the keyed sample of store paths is the scanner's: the
// same key and check number choose the same paths; within an epoch of L
// checks every path is due exactly once; a check standing for the whole
// epoch it missed (Back) rehashes every path; another key chooses
// otherwise.
func TestNixRehash(t *testing.T) {
	var paths []string
	for i := range 600 {
		paths = append(paths, fmt.Sprintf("/nix/store/%032d-pkg-%d", i, i))
	}
	key := [32]byte{1, 2, 3}
	const within = 6 // L = 3 checks an epoch
	due := func(k [32]byte, check, back uint64) map[string]bool {
		rehash := engine.NixRehash(&scanner.Sample{Key: k, Check: check, Back: back, Within: within})
		out := map[string]bool{}
		for _, p := range paths {
			if rehash(p) {
				out[p] = true
			}
		}
		return out
	}
	for epoch := uint64(1000); epoch < 1004; epoch++ {
		times := map[string]int{}
		for c := epoch * 3; c < epoch*3+3; c++ {
			got := due(key, c, 0)
			if again := due(key, c, 0); len(again) != len(got) {
				t.Fatalf("check %d: %d paths due, then %d with the same key", c, len(got), len(again))
			}
			if n := len(got); n < len(paths)/6 || n > len(paths)/2 {
				t.Errorf("check %d: %d of %d paths due, want about a third", c, n, len(paths))
			}
			for p := range got {
				times[p]++
			}
		}
		for _, p := range paths {
			if times[p] != 1 {
				t.Fatalf("epoch %d: %s due %d times in its 3 checks, want exactly 1", epoch, p, times[p])
			}
		}
	}
	if got := due(key, 3010, 4); len(got) != len(paths) {
		t.Errorf("a check standing for 2L-2 = 4 missed ones: %d of %d paths due, want all", len(got), len(paths))
	}
	a, b := due(key, 3000, 0), due([32]byte{9}, 3000, 0)
	same := 0
	for p := range a {
		if b[p] {
			same++
		}
	}
	if same == len(a) && len(a) == len(b) {
		t.Errorf("two keys chose the same %d paths at check 3000", same)
	}
	if engine.NixRehash(nil) != nil || engine.NixRehash(&scanner.Sample{Within: 0}) != nil {
		t.Error("NixRehash of no sample is not nil")
	}
}

// nixEngine is a host with a real Nix store, its snapshot written, and a
// baseline of its /etc recording it; the engine's clock is *now.
type nixEngine struct {
	h   *fimtest.NixHost
	cfg *config.Config
	eng *engine.Engine
	db  *store.DB
	now *time.Time
}

func newNixEngine(t *testing.T, n int, within int) *nixEngine {
	t.Helper()
	h := fimtest.NewNixHost(t, n)
	dbPath := filepath.Join(t.TempDir(), "vigil.db")
	text := fmt.Sprintf("database = %q\nroots = [%q]\n\n[scan]\nreread_within = %d\n\n[nix]\nroot = %q\nsnapshot = %q\n",
		dbPath, filepath.Join(h.Dir, "etc"), within, h.Dir, filepath.Join(h.Dir, "etc/vigil/nix-store.json"))
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q): %v", text, err)
	}
	writeNixSnapshot(t, cfg)
	now := time.Unix(1_800_000_000, 0)
	eng, err := engine.New(cfg, engine.Settings{Host: "testhost", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := eng.Init(t.Context(), db, engine.Request{}, nil); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return &nixEngine{h: h, cfg: cfg, eng: eng, db: db, now: &now}
}

// writeNixSnapshot verifies the store and writes its snapshot, as vigil
// nix snapshot does.
func writeNixSnapshot(t *testing.T, cfg *config.Config) {
	t.Helper()
	st := nix.Store{Root: cfg.Nix.RootDir()}
	r, err := nix.Verify(t.Context(), st, nix.Options{Full: true})
	if err != nil || len(r.Findings) != 0 {
		t.Fatalf("nix.Verify(fresh store) = %v, findings %v", err, r.Findings)
	}
	roots, err := st.SystemRoots()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.Snapshot(roots))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Nix.SnapshotPath(), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckNixKeyedSample: on a real store, CheckNix rehashes the store
// paths the keyed sample of the state file's key says are due: the same
// number for the same period, every path once over an epoch, none again
// in the period of the last check (Last), and every path after a whole
// epoch without a Nix check.
func TestCheckNixKeyedSample(t *testing.T) {
	const n, within = 40, 6 // L = 3
	ne := newNixEngine(t, n, within)
	stateFile := filepath.Join(t.TempDir(), "vigil.db.sample")
	st := engine.SampleState{Key: [32]byte{7}}
	if err := st.Save(stateFile); err != nil {
		t.Fatal(err)
	}
	total := n + 1 // the added paths and the system generation
	check := func(last uint64) engine.NixResult {
		t.Helper()
		res, err := ne.eng.CheckNix(t.Context(), ne.db, engine.NixRequest{SampleFile: stateFile, Last: last})
		if err != nil || res.Tampered != nil || !res.Sealed || len(res.Findings) != 0 {
			t.Fatalf("CheckNix(untouched store) = %v, tampered %v, sealed %v, findings %v; want sealed, no finding",
				err, res.Tampered, res.Sealed, res.Findings)
		}
		if res.Sample == nil || res.Sample.Key != st.Key {
			t.Fatalf("CheckNix: sample %v, want the state file's key", res.Sample)
		}
		return res
	}
	period := engine.SamplePeriod(ne.cfg)
	*ne.now = time.Unix(0, 0).Add(period * 3 * 200_000) // the first check of an epoch
	hashed := 0
	for i := range 3 {
		res := check(0)
		if again := check(0); again.Report.Hashed != res.Report.Hashed {
			t.Errorf("check %d: %d paths hashed, then %d in the same period", i, res.Report.Hashed, again.Report.Hashed)
		}
		if res.Report.Hashed+res.Report.Reused != total {
			t.Errorf("check %d: %d hashed + %d reused, want %d paths", i, res.Report.Hashed, res.Report.Reused, total)
		}
		hashed += res.Report.Hashed
		*ne.now = ne.now.Add(period)
	}
	if hashed != total {
		t.Errorf("over the 3 checks of an epoch %d paths were hashed, want each of the %d exactly once", hashed, total)
	}
	res := check(0)
	if got := check(res.Sample.Check).Report.Hashed; got != 0 {
		t.Errorf("a second Nix check in the period of the last (Last) hashed %d paths, want none", got)
	}
	if got := check(res.Sample.Check - 5).Report.Hashed; got != total {
		t.Errorf("a Nix check after 4 periods without one hashed %d paths, want all %d", got, total)
	}
	full, err := ne.eng.CheckNix(t.Context(), ne.db, engine.NixRequest{Full: true})
	if err != nil || full.Report.Hashed != total {
		t.Errorf("CheckNix(Full) = %v, %d hashed; want all %d", err, full.Report.Hashed, total)
	}
}

// TestCheckNixSnapshot: a snapshot file that is not the baseline's (edited,
// or replaced by a symlink) is ErrNixSnapshotChanged and the store is not
// checked.
func TestCheckNixSnapshot(t *testing.T) {
	ne := newNixEngine(t, 5, 6)
	path := ne.cfg.Nix.SnapshotPath()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ne.eng.CheckNix(t.Context(), ne.db, engine.NixRequest{})
	if err != nil || !errors.Is(res.Tampered, engine.ErrNixSnapshotChanged) || res.Report != nil {
		t.Errorf("CheckNix(snapshot edited) = %v, tampered %v, report %v; want ErrNixSnapshotChanged, nothing checked", err, res.Tampered, res.Report)
	}
	other := filepath.Join(t.TempDir(), "snap.json")
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, path); err != nil {
		t.Fatal(err)
	}
	res, err = ne.eng.CheckNix(t.Context(), ne.db, engine.NixRequest{})
	if err != nil || !errors.Is(res.Tampered, engine.ErrNixSnapshotChanged) {
		t.Errorf("CheckNix(snapshot a symlink to its copy) = %v, tampered %v; want ErrNixSnapshotChanged", err, res.Tampered)
	}
}
