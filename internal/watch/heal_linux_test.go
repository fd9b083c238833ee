package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/fimtest"
)

// TestWatchLimitHeals: with room for 4 watches (a limit of the test's own
// user namespace) 17 subtrees fall back to periodic scans; once the limit
// is raised, the next fallback tick watches them all, and a change in a
// former fallback subtree is a hint of its own at once.
func TestWatchLimitHeals(t *testing.T) {
	if !inUserNamespace(t) {
		return
	}
	setUserLimit(t, "max_inotify_watches", 4)
	root := t.TempDir()
	tree := fimtest.Tree{}
	for i := range 20 {
		tree[fmt.Sprintf("d%02d/f", i)] = fimtest.File("x")
	}
	tree.Make(t, root)
	in, ch := run(t, Options{Roots: []string{root}, FallbackInterval: 50 * time.Millisecond})
	cov := in.Coverage()
	if cov.Watched != 4 || len(cov.Fallback) != 17 {
		t.Fatalf("Coverage() = %+v, want 4 watched (the limit) and 17 fallback subtrees", cov)
	}
	f, last := cov.Fallback[0], cov.Fallback[len(cov.Fallback)-1]
	setUserLimit(t, "max_inotify_watches", 100)
	// A tick sends the fallbacks' hints in order, after trying each again:
	// the last one's hint from a tick after the raise comes with all
	// watched (hints of earlier ticks may still be queued before it).
	expect(t, ch, "tree "+last+" with every fallback watched", func(ev Event) bool {
		return ev.Path == last && ev.Op.Has(Tree) && in.Coverage().Watched == 21
	})
	if cov := in.Coverage(); cov.Watched != 21 || len(cov.Fallback) != 0 {
		t.Fatalf("Coverage() after the limit was raised = %+v, want 21 watched, no fallback", cov)
	}
	g := filepath.Join(f, "g")
	if err := os.WriteFile(g, []byte("g"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "changed "+g, func(ev Event) bool { return ev.Path == g && ev.Op.Has(Changed) })
}
