//go:build linux

package engine_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/engine"
)

// TestBtrfsScopedCheckEqualsScan is the differential test of a check
// naming paths: over random mutations, the check of a few subtrees (and of
// the root) by the Btrfs search, filtered by scope, reports exactly what
// their walk reports, and says which subtrees it checked.
func TestBtrfsScopedCheckEqualsScan(t *testing.T) {
	f := newBtrfsFixture(t, "srv")
	m := &mutator{t: t, rng: rand.New(rand.NewPCG(testSeed(7), 17)), vol: f.vol, root: f.root, noSubvol: true}
	for range 4 {
		m.create()
	}
	f.run(t, engine.Init, f.opts(t))
	searched := 0
	for round := range 20 {
		m.done = nil
		for range 1 + m.rng.IntN(6) {
			m.one()
		}
		files, dirs := m.files()
		paths := []string{f.root}
		if round%4 != 0 {
			paths = nil
			for range 1 + m.rng.IntN(3) {
				if all := append(files, dirs...); len(all) > 0 {
					paths = append(paths, m.pick(all))
				}
			}
		}
		what := fmt.Sprintf("round %d (%s), check %s", round, strings.Join(m.done, "; "), strings.Join(paths, " "))
		o := f.opts(t)
		o.Paths = paths
		fast, fr := f.run(t, engine.Check, o)
		o = f.opts(t)
		o.Paths, o.Scan = paths, true
		slow, sr := f.run(t, engine.Check, o)
		if fr.Method != engine.MethodBtrfs || sr.Method != engine.MethodScan {
			t.Fatalf("%s: methods %q and %q, want btrfs and scan", what, fr.Method, sr.Method)
		}
		if d := cmp.Diff(slow, fast); d != "" {
			t.Fatalf("%s: btrfs check differs from the scan (-scan +btrfs):\n%s\nscan:\n%s\nbtrfs:\n%s", what, d, strings.Join(slow, "\n"), strings.Join(fast, "\n"))
		}
		if !slices.Equal(fr.Scopes, sr.Scopes) {
			t.Errorf("%s: scopes %q by search, %q by the walk", what, fr.Scopes, sr.Scopes)
		}
		searched += len(fast)
		if round%5 == 4 {
			f.run(t, engine.Update, f.opts(t))
		}
	}
	if searched == 0 {
		t.Errorf("no scoped check found a change: the test compared nothing")
	}
}
