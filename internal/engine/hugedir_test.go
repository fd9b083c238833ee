//go:build linux

package engine_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/fimtest"
)

// TestHugeDirectory: a directory of more than two of the scanner's listing
// chunks (4,096 entries), against a real database: unchanged, every file is
// trusted from the stat cache, read in chunks, and nothing is reported; a
// change, an addition and a removal in later chunks are reported, and
// nothing else; an update accepts them and the next check is clean; the
// baseline verifies throughout.
func TestHugeDirectory(t *testing.T) {
	t.Parallel()
	const n = 9000
	tree := fimtest.Tree{}
	for i := range n {
		tree[fmt.Sprintf("big/f%05d", i)] = fimtest.File(fmt.Sprint(i))
	}
	f := newFixture(t, tree)
	fimtest.SleepPastRacy()
	f.init(t)

	o, st := f.statsOpts()
	changes, errs, res := f.check(t, o)
	if len(changes) != 0 || len(errs) != 0 || res.Tampered != nil {
		t.Fatalf("Check of the unchanged tree: %v, errors %v, tampered %v; want nothing", changes, errs, res.Tampered)
	}
	if hits := st.CacheHits.Load(); hits != n {
		t.Errorf("Check of the unchanged tree: %d cache hits, want %d", hits, n)
	}

	must(t, os.WriteFile(f.path("big/f08500"), []byte("changed"), 0o644))
	must(t, os.WriteFile(f.path("big/f06000x"), []byte("new"), 0o644))
	must(t, os.Remove(f.path("big/f04500")))
	o, st = f.statsOpts()
	changes, _, res = f.check(t, o)
	var got []string
	for _, c := range changes {
		got = append(got, c.Action+" "+c.Path)
	}
	// Creations and deletions are held to pair moves, and come last.
	want := []string{"attributes_modified big", "updated big/f08500", "deleted big/f04500", "created big/f06000x"}
	if diff := cmp.Diff(want, got); diff != "" || res.Tampered != nil {
		t.Errorf("Check after three changes (-want +got):\n%s\ntampered %v", diff, res.Tampered)
	}
	if hits := st.CacheHits.Load(); hits != n-2 {
		t.Errorf("Check after three changes: %d cache hits, want %d", hits, n-2)
	}
	if _, _, res := f.update(t, f.opts()); !res.Written {
		t.Fatalf("Update after three changes wrote nothing")
	}
	if changes, _, res := f.check(t, f.opts()); len(changes) != 0 || res.Tampered != nil {
		t.Errorf("Check after the update: %v, tampered %v; want nothing", changes, res.Tampered)
	}
}
