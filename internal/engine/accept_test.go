//go:build linux

package engine_test

import (
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/fimtest"
	"vigil/merkle"
)

// TestUpdateAccept: Update writes only the changes Options.Accept accepts;
// a turned-down modification, creation or deletion keeps what was
// recorded, so the next Check reports it again.
func TestUpdateAccept(t *testing.T) {
	f := newFixture(t, fimtest.Tree{"f": fimtest.File("f"), "g": fimtest.File("g"), "d/h": fimtest.File("h")})
	f.init(t)
	must(t, os.WriteFile(f.path("f"), []byte("changed"), 0o644))
	must(t, os.WriteFile(f.path("g"), []byte("changed too"), 0o644))
	must(t, os.WriteFile(f.path("d/new"), []byte("n"), 0o644))
	must(t, os.Remove(f.path("d/h")))

	o := f.opts()
	var asked []string
	o.Accept = func(c merkle.Change) (bool, error) {
		asked = append(asked, c.Action.String()+" "+f.rel(c.Path))
		return c.Path == f.path("f"), nil
	}
	got, _, res := f.update(t, o)
	if want := []string{"updated f"}; !cmp.Equal(paths(got), want) || !res.Written {
		t.Errorf("Update accepting f reported %+v (written %v), want only f's change, written", got, res.Written)
	}
	if res.Added != 0 || res.Removed != 0 || res.Changed != 1 {
		t.Errorf("Update accepting f counted %d added, %d removed, %d changed; want 0, 0, 1", res.Added, res.Removed, res.Changed)
	}
	got, _, _ = f.check(t, f.opts())
	// d's own times (a name came and went) were turned down too.
	want := []string{"attributes_modified d", "created d/new", "deleted d/h", "updated g"}
	if diff := cmp.Diff(want, paths(got)); diff != "" {
		t.Errorf("Check after the update reported (-want +got):\n%s\nAccept was asked about %q", diff, asked)
	}
}

// paths returns "action path" of each change, sorted.
func paths(cs []change) []string {
	var out []string
	for _, c := range sortChanges(cs) {
		out = append(out, c.Action+" "+c.Path)
	}
	slices.Sort(out)
	return out
}
