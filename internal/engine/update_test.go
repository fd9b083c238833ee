//go:build linux

package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
)

var cacheTree = fimtest.Tree{
	"f":     fimtest.File("aaaa"),
	"g":     fimtest.File("gggg"),
	"d/a":   fimtest.File("a"),
	"d/b/c": fimtest.File("c"),
	"l":     fimtest.Symlink("f"),
}

// TestStatCache: an unchanged tree is checked without reading any file,
// --full reads every file, and a file rewritten at the same size with its
// mtime put back misses the cache (its ctime moved) and is read again.
func TestStatCache(t *testing.T) {
	t.Parallel()
	const files = 4
	f := newFixture(t, cacheTree)
	fimtest.SleepPastRacy()
	f.init(t)

	steps := []struct {
		name         string
		mutate       func(t *testing.T)
		full         bool
		hashed, hits int64
		want         []change
	}{
		{name: "unchanged", hashed: 0, hits: files},
		{name: "unchanged, full", full: true, hashed: files, hits: 0},
		{name: "same size, mtime put back", mutate: func(t *testing.T) {
			must(t, os.WriteFile(f.path("g"), []byte("hhhh"), 0))
			must(t, os.Chtimes(f.path("g"), fimtest.Past, fimtest.Past))
		}, hashed: 1, hits: files - 1, want: []change{ch(updated, "g", merkle.AttrContent|merkle.AttrCtime)}},
	}
	for _, s := range steps {
		if s.mutate != nil {
			s.mutate(t)
		}
		o, st := f.statsOpts()
		o.Full = s.full
		got, errs, _ := f.check(t, o)
		if diff := cmp.Diff(s.want, sortChanges(got)); diff != "" || len(errs) != 0 {
			t.Errorf("%s: Check reported (-want +got):\n%s\nerrors: %v", s.name, diff, errs)
		}
		if h, c := st.Hashed.Load(), st.CacheHits.Load(); h != s.hashed || c != s.hits {
			t.Errorf("%s: Check hashed %d files, %d cache hits; want %d and %d", s.name, h, c, s.hashed, s.hits)
		}
	}
}

// TestUpdateScoped: update PATH accepts the changes below PATH only; a
// change elsewhere is still reported by the next check.
func TestUpdateScoped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{"in/a": fimtest.File("a"), "out/b": fimtest.File("b")})
	f.init(t)
	appendTo(t, f.path("in/a"), "+")
	appendTo(t, f.path("out/b"), "+")
	must(t, os.WriteFile(f.path("in/new"), []byte("n"), 0o644))
	fileChange := merkle.AttrContent | merkle.AttrSize | times

	o := f.opts()
	o.Paths = []string{f.path("in")}
	got, errs, res := f.update(t, o)
	want := []change{ch(modified, "in", times), ch(updated, "in/a", fileChange), ch(created, "in/new", noChanges)}
	if diff := cmp.Diff(want, sortChanges(got)); diff != "" || len(errs) != 0 {
		t.Errorf("Update %s reported (-want +got):\n%s\nerrors: %v", o.Paths[0], diff, errs)
	}
	if !res.Written {
		t.Errorf("Update %s: Written = false, want true", o.Paths[0])
	}
	if b, err := f.db.Current(); err != nil || !cmp.Equal(b.Info().Roots, []string{f.root}) {
		t.Errorf("after a scoped Update the baseline's roots are %v (err %v), want [%s]", b.Info().Roots, err, f.root)
	}

	got, errs, _ = f.check(t, f.opts())
	want = []change{ch(updated, "out/b", fileChange)}
	if diff := cmp.Diff(want, sortChanges(got)); diff != "" || len(errs) != 0 {
		t.Errorf("Check after the scoped Update reported (-want +got):\n%s\nerrors: %v", diff, errs)
	}

	o.Paths = []string{f.path("out/b")}
	got, _, _ = f.check(t, o)
	if diff := cmp.Diff(want, sortChanges(got)); diff != "" {
		t.Errorf("Check %s reported (-want +got):\n%s", o.Paths[0], diff)
	}
	o.Paths = []string{f.path("in")}
	if got, _, _ = f.check(t, o); len(got) != 0 {
		t.Errorf("Check %s reported %v, want nothing", o.Paths[0], got)
	}
}

// TestUpdateUnchanged: an update that finds nothing new writes no baseline.
func TestUpdateUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cacheTree)
	first := f.init(t)
	got, errs, res := f.update(t, f.opts())
	if len(got) != 0 || len(errs) != 0 || res.Written {
		t.Errorf("Update of an unchanged tree: changes %v, errors %v, Written %v; want none, false", got, errs, res.Written)
	}
	all, err := f.db.Baselines()
	if err != nil || len(all) != 1 || all[0].ID != first.Baseline.ID {
		t.Errorf("baselines after the Update: %+v (err %v), want only baseline %d", all, err, first.Baseline.ID)
	}
}

// TestInitExisting: Init refuses to replace a baseline unless forced.
func TestInitExisting(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cacheTree)
	first := f.init(t)
	if _, _, _, err := f.try(t, engine.Init, f.opts()); !errors.Is(err, engine.ErrExists) {
		t.Errorf("second Init: %v, want ErrExists", err)
	}
	o := f.opts()
	o.Force = true
	_, _, res := f.op(t, "Init", engine.Init, o)
	if !res.Written || res.Baseline.ID == first.Baseline.ID || res.Baseline.Parent != first.Baseline.ID {
		t.Errorf("forced Init wrote baseline %d (parent %d, written %v), want a new one with parent %d",
			res.Baseline.ID, res.Baseline.Parent, res.Written, first.Baseline.ID)
	}
	if res.NewRoot != first.NewRoot {
		t.Errorf("forced Init of the same tree: root %x, want %x as before", res.NewRoot, first.NewRoot)
	}
}

// TestPathOutsideRoots: Check and Update refuse paths outside the roots.
func TestPathOutsideRoots(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cacheTree)
	f.init(t)
	o := f.opts()
	o.Paths = []string{t.TempDir()}
	if _, _, _, err := f.try(t, engine.Check, o); !errors.Is(err, engine.ErrOutside) {
		t.Errorf("Check %s: %v, want ErrOutside", o.Paths[0], err)
	}
	if _, _, _, err := f.try(t, engine.Update, o); !errors.Is(err, engine.ErrOutside) {
		t.Errorf("Update %s: %v, want ErrOutside", o.Paths[0], err)
	}
}

// TestDatabaseInsideRoot: Init refuses a database inside a scanned tree.
func TestDatabaseInsideRoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cacheTree)
	o := f.opts()
	o.Paths = []string{filepath.Dir(f.db.Path())}
	if _, _, _, err := f.try(t, engine.Init, o); !errors.Is(err, engine.ErrDBInside) {
		t.Errorf("Init %v with the database at %s: %v, want ErrDBInside", o.Paths, f.db.Path(), err)
	}
}

// TestUpdateKeepsBaselineRoots: a baseline taken of PATHs is updated and
// checked on those PATHs, not on the configured roots.
func TestUpdateKeepsBaselineRoots(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cacheTree)
	o := f.opts()
	o.Paths = []string{f.path("d")}
	if _, errs, res := f.op(t, "Init", engine.Init, o); len(errs) != 0 || !res.Written {
		t.Fatalf("engine.Init(Paths: d) errors %v, written %v", errs, res.Written)
	}
	must(t, os.WriteFile(f.path("d/a"), []byte("changed"), 0o644))
	got, errs, res := f.update(t, f.opts())
	want := []change{
		ch(updated, "d/a", merkle.AttrContent|merkle.AttrSize|merkle.AttrMtime|merkle.AttrCtime),
	}
	if diff := cmp.Diff(want, sortChanges(withoutDirs(got))); diff != "" || len(errs) != 0 {
		t.Errorf("Update after Init(d) reported (-want +got):\n%s\nerrors: %v", diff, errs)
	}
	if len(res.Baseline.Roots) != 1 || res.Baseline.Roots[0] != f.path("d") {
		t.Errorf("Update recorded roots %q, want [%q]", res.Baseline.Roots, f.path("d"))
	}
	if got, _, _ := f.check(t, f.opts()); len(got) != 0 {
		t.Errorf("Check after Update reported %v, want nothing", got)
	}
}

// withoutDirs drops the changes of directories (their times move with
// every change inside them).
func withoutDirs(cs []change) []change {
	var out []change
	for _, c := range cs {
		if c.Path != "d" && c.Path != "." {
			out = append(out, c)
		}
	}
	return out
}
