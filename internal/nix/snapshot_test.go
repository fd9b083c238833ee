package nix_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/nix"
)

type closureGot struct {
	Kind       nix.Kind
	Path       string
	Generation int
}

// TestCompareSnapshot: a new system generation's new paths are reported
// with the generation that brought them, a database record edited since
// the seal is reported, and an unchanged store against its own snapshot
// reports nothing.
func TestCompareSnapshot(t *testing.T) {
	ts := newTestStore(t, 20)
	verify := func() (*nix.Report, []nix.SystemRoot) {
		t.Helper()
		r, err := nix.Verify(t.Context(), ts.Store, nix.Options{})
		if err != nil {
			t.Fatal(err)
		}
		roots, err := ts.SystemRoots()
		if err != nil {
			t.Fatal(err)
		}
		return r, roots
	}
	r, roots := verify()
	if len(roots) != 3 || roots[0].Top != ts.sys[0] || roots[2].Link != "/run/current-system" || roots[2].Generation != 1 {
		t.Fatalf("SystemRoots() = %+v, want system, system-1-link and /run/current-system at %s, generation 1", roots, ts.sys[0])
	}
	sealed := r.Snapshot(roots)
	// Through JSON, as it is kept.
	b, err := json.Marshal(sealed)
	if err != nil {
		t.Fatal(err)
	}
	var kept nix.Snapshot
	if err := json.Unmarshal(b, &kept); err != nil {
		t.Fatal(err)
	}
	if len(kept.Closure) != 3+2 || len(nix.Compare(kept, r, roots)) != 0 {
		t.Fatalf("snapshot closure %v (want the 3 added paths, lib and system), Compare(itself) = %v", kept.Closure, nix.Compare(kept, r, roots))
	}

	newLib := ts.register(t, "gggggggggggggggggggggggggggggggg-lib-2", []string{ts.added[5]})
	gen2 := ts.addGeneration(t, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh-nixos-system-2", []string{ts.lib, newLib})
	execDB(t, ts.Store, "update ValidPaths set registrationTime = registrationTime + 1 where path = ?", ts.added[0])
	r2, roots2 := verify()
	var got []closureGot
	for _, f := range nix.Compare(kept, r2, roots2) {
		got = append(got, closureGot{f.Kind, f.Path, f.Generation})
	}
	want := []closureGot{
		{nix.ClosureAdded, ts.added[5], 2},
		{nix.ClosureAdded, newLib, 2},
		{nix.ClosureAdded, gen2, 2},
		{nix.DBChanged, ts.added[0], 0},
	}
	slices.SortFunc(want, func(a, b closureGot) int { return strings.Compare(a.Path, b.Path) }) // Compare's order
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Compare(sealed, after generation 2) (-want +got):\n%s", diff)
	}
	// A third generation holding the second's paths (and the profile and
	// /run/current-system moved to it) leaves their findings as they
	// were: each path stays with the generation that brought it, so a
	// switch does not report it again under another generation or link.
	before := map[string]string{}
	for _, f := range nix.Compare(kept, r2, roots2) {
		before[f.Path] = f.Message()
	}
	ts.addGeneration(t, "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii-nixos-system-3", []string{ts.lib, newLib, gen2})
	r4, roots4 := verify()
	for _, f := range nix.Compare(kept, r4, roots4) {
		if m, ok := before[f.Path]; ok && m != f.Message() {
			t.Errorf("after generation 3, %s %s: %q, want it as after generation 2: %q", f.Kind, f.Path, f.Message(), m)
		}
	}
	// The sealed states are a stat cache: nothing to rehash but what
	// changed since (the new paths).
	r3, err := nix.Verify(t.Context(), ts.Store, nix.Options{Known: kept.Known()})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Hashed != 3 {
		t.Errorf("Verify(Known: sealed) hashed %d paths, want 3 (the new ones)", r3.Hashed)
	}
}
