//go:build linux

package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/store"
)

// btrfsFixture is a loop-mounted Btrfs with a subvolume "vol" holding the
// tree, a configuration watching root (vol or a directory in it) and a
// database outside it.
type btrfsFixture struct {
	mnt, vol, root string
	cfg            *config.Config
	db             *store.DB
}

func newBtrfsFixture(t *testing.T, sub string) *btrfsFixture {
	t.Helper()
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "")
	f := &btrfsFixture{mnt: mnt, vol: filepath.Join(mnt, "vol")}
	if err := btrfs.Create(f.vol); err != nil {
		t.Fatal(err)
	}
	f.root = filepath.Join(f.vol, sub)
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "vigil.db")
	f.cfg = parseConfig(t, dbPath, f.root)
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.db = db
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("db.Check() = %v", err)
		}
		db.Close()
	})
	return f
}

func (f *btrfsFixture) opts(t *testing.T) engine.Options {
	return engine.Options{Config: f.cfg, Host: "h", Version: "test",
		Report: engine.Funcs{OnWarn: func(p string, err error) { t.Errorf("warning: %s: %v", p, err) }}}
}

// run runs op and returns the changes it reported, as sorted lines.
func (f *btrfsFixture) run(t *testing.T, op func(context.Context, *store.DB, engine.Options) (engine.Result, error), o engine.Options) ([]string, engine.Result) {
	t.Helper()
	var out []string
	fn, _ := o.Report.(engine.Funcs)
	fn.OnChange = func(c merkle.Change) error {
		from := ""
		if c.Action == merkle.Moved {
			from = " from " + c.Old.Path
		}
		out = append(out, fmt.Sprintf("%v %s%s %v", c.Action, c.Path, from, c.Changed))
		return nil
	}
	fn.OnError = func(p string, err error) error { t.Errorf("%s: %v", p, err); return nil }
	o.Report = fn
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := op(ctx, f.db, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	slices.Sort(out)
	return out, res
}

// checkBoth checks by the Btrfs search and by a walk and fails t unless
// both report the same changes and the same root.
func (f *btrfsFixture) checkBoth(t *testing.T, what string) []string {
	t.Helper()
	fast, fr := f.run(t, engine.Check, f.opts(t))
	o := f.opts(t)
	o.Scan = true
	slow, sr := f.run(t, engine.Check, o)
	if fr.Method != engine.MethodBtrfs || sr.Method != engine.MethodScan {
		t.Fatalf("%s: methods %q and %q, want btrfs and scan", what, fr.Method, sr.Method)
	}
	if d := cmp.Diff(slow, fast); d != "" {
		t.Fatalf("%s: btrfs check differs from the scan (-scan +btrfs):\n%s", what, d)
	}
	if fr.NewRoot != sr.NewRoot {
		t.Fatalf("%s: roots differ: btrfs %v, scan %v", what, fr.NewRoot, sr.NewRoot)
	}
	return fast
}

// mutator makes random changes of every kind in a tree.
type mutator struct {
	// noSubvol leaves out nested subvolumes; subvols are those made.
	noSubvol bool
	subvols  []string
	t        *testing.T
	rng      *rand.Rand
	vol      string
	root     string
	n        int
	done     []string
}

func (m *mutator) files() (files, dirs []string) {
	filepath.WalkDir(m.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.Contains(p, ".vigil-snapshots") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if p != m.root {
				if st, err := os.Lstat(p); err == nil {
					var s unix.Stat_t
					if unix.Lstat(p, &s) == nil && s.Ino == 256 {
						return filepath.SkipDir // a nested subvolume
					}
					_ = st
				}
				dirs = append(dirs, p)
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files, dirs
}

func (m *mutator) name() string {
	m.n++
	return fmt.Sprintf("n%d", m.n)
}

func (m *mutator) pick(s []string) string { return s[m.rng.IntN(len(s))] }

// one applies one random mutation and says which.
func (m *mutator) one() {
	t := m.t
	files, dirs := m.files()
	if len(files) < 3 || len(dirs) < 2 {
		m.create()
		return
	}
	f := m.pick(files)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var what string
	switch k := m.rng.IntN(17); k {
	case 0:
		what = "write " + f
		must(os.WriteFile(f, []byte(fmt.Sprint("new ", m.rng.Int())), 0o644))
	case 1: // same size, times put back
		what = "same-size edit " + f
		st, err := os.Lstat(f)
		must(err)
		b, err := os.ReadFile(f)
		must(err)
		if len(b) == 0 {
			b = []byte{0}
		}
		b[0] ^= 1
		must(os.WriteFile(f, b, 0o644))
		must(os.Chtimes(f, st.ModTime(), st.ModTime()))
	case 2:
		what = "chmod " + f
		must(os.Chmod(f, os.FileMode(0o600|m.rng.IntN(0o100))))
	case 3:
		what = "chown " + f
		must(os.Lchown(f, 1000+m.rng.IntN(3), 1000))
	case 4:
		what = "xattr " + f
		must(unix.Lsetxattr(f, "user.vigil", []byte(fmt.Sprint(m.rng.Int())), 0))
	case 5:
		what = "chattr " + f
		fd, err := unix.Open(f, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		must(err)
		defer unix.Close(fd)
		flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		must(err)
		must(unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags^0x40))) // FS_NODUMP_FL
	case 6:
		src := m.pick(files)
		a, _ := os.Lstat(src)
		b, _ := os.Lstat(f)
		if a == nil || b == nil || os.SameFile(a, b) {
			return // a hard link of itself
		}
		what = "reflink " + src + " onto " + f
		s, err := os.Open(src)
		must(err)
		defer s.Close()
		d, err := os.OpenFile(f, os.O_WRONLY, 0)
		must(err)
		defer d.Close()
		err = unix.IoctlFileClone(int(d.Fd()), int(s.Fd()))
		if err == unix.EINVAL || err == unix.EOPNOTSUPP {
			m.done = append(m.done, what+" (refused: inline extents, or no reflinks here)")
			return
		}
		must(err)
	case 7:
		dst := filepath.Join(m.pick(dirs), m.name())
		what = "hard link " + f + " at " + dst
		must(os.Link(f, dst))
	case 8:
		dst := filepath.Join(m.pick(dirs), m.name())
		what = "rename " + f + " to " + dst
		must(os.Rename(f, dst))
	case 9:
		d := m.pick(dirs)
		dst := filepath.Join(m.root, m.name())
		what = "rename dir " + d + " to " + dst
		must(os.Rename(d, dst))
	case 10:
		what = "delete " + f
		must(os.Remove(f))
	case 11:
		d := m.pick(dirs)
		what = "delete subtree " + d
		must(os.RemoveAll(d))
	case 12:
		what = "read " + f
		_, err := os.ReadFile(f)
		must(err)
	case 13:
		if m.noSubvol {
			return
		}
		p := filepath.Join(m.pick(dirs), m.name())
		what = "subvolume " + p
		must(btrfs.Create(p))
		must(os.WriteFile(filepath.Join(p, "inside"), []byte("x"), 0o644))
		m.subvols = append(m.subvols, p)
	case 15:
		if len(m.subvols) == 0 {
			return
		}
		sv := m.pick(m.subvols)
		if st, err := os.Lstat(sv); err != nil || !st.IsDir() {
			return // moved or deleted since
		}
		p := filepath.Join(sv, m.name())
		what = "write in subvolume " + p
		must(os.WriteFile(p, []byte("inside"), 0o644))
	case 14:
		p := filepath.Join(m.pick(dirs), m.name())
		what = "symlink " + p
		must(os.Symlink(f, p))
	default:
		m.create()
		return
	}
	m.done = append(m.done, what)
}

// create adds a small subtree.
func (m *mutator) create() {
	d := filepath.Join(m.root, m.name())
	if _, dirs := m.files(); len(dirs) > 0 && m.rng.IntN(2) == 0 {
		d = filepath.Join(m.pick(dirs), m.name())
	}
	for i := range 3 {
		p := filepath.Join(d, m.name())
		if i == 2 {
			p = filepath.Join(d, "sub", m.name())
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprint(m.rng.Int())), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	m.done = append(m.done, "create "+d)
}

// TestBtrfsCheckEqualsScan is the differential test: over random sets of
// mutations of every kind, the check by Btrfs search reports exactly what
// the walk reports, with the same root hash, and an update by search
// leaves nothing for either to report.
func TestBtrfsCheckEqualsScan(t *testing.T) {
	for _, sub := range []string{"", "srv/etc"} {
		t.Run("root="+filepath.Join("vol", sub), func(t *testing.T) {
			f := newBtrfsFixture(t, sub)
			m := &mutator{t: t, rng: rand.New(rand.NewPCG(testSeed(1), uint64(len(sub)))), vol: f.vol, root: f.root}
			for range 4 {
				m.create()
			}
			f.run(t, engine.Init, f.opts(t))
			info, err := f.db.Current()
			if err != nil {
				t.Fatal(err)
			}
			if n := len(info.Info().Snapshots); n != 1 {
				t.Fatalf("init recorded %d snapshots, want 1", n)
			}
			if got := f.checkBoth(t, "after init"); len(got) != 0 {
				t.Fatalf("changes right after init: %v", got)
			}
			for round := range 30 {
				m.done = nil
				for range 1 + m.rng.IntN(6) {
					m.one()
				}
				what := fmt.Sprintf("round %d (%s)", round, strings.Join(m.done, "; "))
				got := f.checkBoth(t, what)
				t.Logf("%s: %d changes", what, len(got))
				if round%3 == 2 {
					// By search, or (every other time) by a walk of the
					// new snapshot, nested subvolumes and all.
					o, method := f.opts(t), engine.MethodBtrfs
					if round%6 == 5 {
						o.Scan, method = true, engine.MethodScan
					}
					_, ur := f.run(t, engine.Update, o)
					if ur.Method != method {
						t.Fatalf("%s: update method %q, want %q", what, ur.Method, method)
					}
					if rest := f.checkBoth(t, what+" then update"); len(rest) != 0 {
						t.Fatalf("%s: after the update: %v", what, rest)
					}
				}
			}
			// Snapshots are pruned with the baselines that record them,
			// and one no baseline records (left by a kill -9 between the
			// snapshot and the commit) by the next update that writes.
			// Another database's snapshot is not this one's to prune.
			cur, err := f.db.Current()
			if err != nil {
				t.Fatal(err)
			}
			tag, _, _ := strings.Cut(filepath.Base(cur.Info().Snapshots[0].Path), "-")
			orphan := filepath.Join(f.vol, ".vigil-snapshots", tag+"-20200101T000000.000000000Z")
			other := filepath.Join(f.vol, ".vigil-snapshots", "0badc0de-20200101T000000.000000000Z")
			for _, p := range []string{orphan, other} {
				if err := btrfs.Snapshot(f.vol, p, true); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(f.root, "last"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, ur := f.run(t, engine.Update, f.opts(t)); !ur.Written {
				t.Fatal("the last update wrote nothing")
			}
			if _, err := os.Lstat(orphan); err == nil {
				t.Errorf("the orphan snapshot %s is still there", orphan)
			}
			if _, err := os.Lstat(other); err != nil {
				t.Errorf("another database's snapshot was pruned: %v", err)
			}
			ents, err := os.ReadDir(filepath.Join(f.vol, ".vigil-snapshots"))
			if err != nil {
				t.Fatal(err)
			}
			infos, err := f.db.Baselines()
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) > len(infos)+1 { // and the other database's
				t.Errorf("%d snapshots kept for %d baselines", len(ents), len(infos))
			}
		})
	}
}

// TestStatementSignsSnapshots: what the Btrfs check trusts is in the
// signed statement, so that a swapped snapshot record breaks the seal;
// a baseline without snapshots keeps the statement it had.
func TestStatementSignsSnapshots(t *testing.T) {
	in := store.Info{ID: 3, Host: "h", Roots: []string{"/"}}
	plain := engine.Statement(in)
	in.Snapshots = []store.Snapshot{{Root: "/", Path: "/.vigil-snapshots/1", UUID: "u", OTransid: 10, CTransid: 9}}
	signed := engine.Statement(in)
	if !strings.HasPrefix(signed, plain) || !strings.Contains(signed, "otransid=10") {
		t.Fatalf("statement with a snapshot:\n%s\nwithout:\n%s", signed, plain)
	}
	in.Snapshots[0].OTransid = 11 // a later snapshot would hide changes
	if engine.Statement(in) == signed {
		t.Fatal("the statement does not change with the snapshot's otransid")
	}
}

// testSeed is the seed of the random mutations: def, or VIGIL_TEST_SEED
// to try others.
func testSeed(def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv("VIGIL_TEST_SEED"), 10, 64); err == nil {
		return v
	}
	return def
}

// TestBtrfsCheckMixedRoots: with one root on Btrfs and one elsewhere, the
// Btrfs check searches the one and walks the other, and finds what the
// walk of both finds.
func TestBtrfsCheckMixedRoots(t *testing.T) {
	f := newBtrfsFixture(t, "etc")
	other := filepath.Join(fimtest.LoopFS(t, "ext4", 64<<20, ""), "boot")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(f.root, "passwd"), filepath.Join(other, "boot.cfg")} {
		if err := os.WriteFile(p, []byte("v1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	text := fmt.Sprintf("database = %q\nroots = [%q, %q]\n", f.cfg.Database, f.root, other)
	if f.cfg, err = config.Parse("mixed.toml", []byte(text)); err != nil {
		t.Fatal(err)
	}
	f.run(t, engine.Init, f.opts(t))
	for _, p := range []string{filepath.Join(f.root, "passwd"), filepath.Join(other, "boot.cfg")} {
		if err := os.WriteFile(p, []byte("v2"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(other, 0o700); err != nil {
		t.Fatal(err)
	}
	got := f.checkBoth(t, "changes in both roots")
	if len(got) < 3 {
		t.Fatalf("changes %v: want both files and the other root's mode", got)
	}
}

// TestBtrfsFallsBack: a recorded snapshot that is no longer trusted (its
// read-only flag cleared, a file planted, the flag set again) is not used:
// the check walks instead, saying why and naming the snapshot, and finds
// what a walk finds; the update walks too and records a new snapshot, which
// the next check searches from.
func TestBtrfsFallsBack(t *testing.T) {
	f := newBtrfsFixture(t, "")
	if err := os.WriteFile(filepath.Join(f.root, "passwd"), []byte("root"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.run(t, engine.Init, f.opts(t))
	cur, err := f.db.Current()
	if err != nil {
		t.Fatal(err)
	}
	snap := cur.Info().Snapshots[0].Path
	fd, err := btrfs.OpenDir(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := btrfs.SetReadOnly(fd, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "passwd"), []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.SetReadOnly(fd, true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "passwd"), []byte("root2"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warned []string
	o := f.opts(t)
	o.Report = engine.Funcs{OnWarn: func(p string, err error) { warned = append(warned, err.Error()) }}
	got, res := f.run(t, engine.Check, o)
	if res.Method != engine.MethodScan || len(warned) != 1 || !strings.Contains(warned[0], snap) || !strings.Contains(warned[0], "not trusted") {
		t.Fatalf("check with a tampered snapshot: method %q, warnings %q; want scan and one warning naming %s", res.Method, warned, snap)
	}
	o.Scan = true
	if want, _ := f.run(t, engine.Check, o); !slices.Equal(got, want) || len(got) == 0 {
		t.Fatalf("the fallback found %v, the walk %v", got, want)
	}
	o.Scan, warned = false, nil
	if _, ur := f.run(t, engine.Update, o); ur.Method != engine.MethodScan || !ur.Written || len(ur.Baseline.Snapshots) != 1 || ur.Baseline.Snapshots[0].Path == snap {
		t.Fatalf("update with a tampered snapshot: method %q, written %v, snapshots %+v", ur.Method, ur.Written, ur.Baseline.Snapshots)
	}
	if got, res := f.run(t, engine.Check, f.opts(t)); res.Method != engine.MethodBtrfs || len(got) != 0 {
		t.Fatalf("after the update: method %q, changes %v", res.Method, got)
	}
}

// TestUnsafeSnapshotDir: a snapshot directory others may enter is refused
// with a warning naming it; the baseline is taken without a snapshot and
// checked by a walk.
func TestUnsafeSnapshotDir(t *testing.T) {
	f := newBtrfsFixture(t, "")
	dir := filepath.Join(f.vol, ".vigil-snapshots")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var warned []string
	o := f.opts(t)
	o.Report = engine.Funcs{OnWarn: func(p string, err error) { warned = append(warned, err.Error()) }}
	_, res := f.run(t, engine.Init, o)
	if len(res.Baseline.Snapshots) != 0 || len(warned) != 1 || !strings.Contains(warned[0], dir) || !strings.Contains(warned[0], "0700") {
		t.Fatalf("init with a 0755 snapshot directory: snapshots %+v, warnings %q", res.Baseline.Snapshots, warned)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("snapshots made in the unsafe directory: %v", ents)
	}
	if _, res := f.run(t, engine.Check, f.opts(t)); res.Method != engine.MethodScan {
		t.Fatalf("check without a snapshot: method %q, want scan", res.Method)
	}
}
