package deptest

import (
	"slices"
	"strings"
	"testing"
)

// layer is each vigil package's row in the drawing of the package doc,
// counted from the bottom. A package may depend, directly or not, only on
// packages of lower rows, and on a package of its own row only through an
// edge listed in allowed (internal/report uses internal/progress).
var layer = map[string]int{
	"merkle":             0,
	"internal/fsys":      0,
	"internal/textdiff":  0,
	"internal/fimtest":   0, // tests only (testOnly)
	"internal/deptest":   0, // tests only
	"alerts":             1,
	"store":              1,
	"btrfs":              1,
	"scanner":            1,
	"bench":              1,
	"internal/nix":       1,
	"internal/watch":     2,
	"internal/config":    2,
	"internal/report":    2,
	"internal/progress":  2,
	"internal/posture":   2,
	"internal/nixtree":   2,
	"internal/console":   2,
	"internal/engine":    3,
	"internal/daemon":    4,
	"internal/fleet":     4,
	"internal/trusttest": 4, // tests only (testOnly)
	"internal/e2e":       5, // tests only: they build and run cmd/vigil
	"cmd/vigil":          5,
	"cmd/vigil-bench":    5,
}

// TestLayers checks the transitive vigil dependencies of every package
// against the layers: an edge allowed on its own cannot pull a higher layer
// in through a chain (the direct edges are TestPackageEdges').
func TestLayers(t *testing.T) {
	for _, p := range vigilPackages(t) {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		lf, known := layer[from]
		if !known {
			t.Errorf("package %s has no layer in internal/deptest: add it to layer and to the package doc's drawing", from)
			continue
		}
		for _, d := range p.Deps {
			to, mine := rel(d)
			if !mine {
				continue
			}
			lt, known := layer[to]
			switch {
			case !known:
				t.Errorf("%s depends on %s, which has no layer in internal/deptest", from, to)
			case lt > lf:
				t.Errorf("%s (layer %d) depends on %s (layer %d), through %s: imports point down only",
					from, lf, to, lt, strings.Join(chain(t, p.ImportPath, d), " -> "))
			case lt == lf && !slices.Contains(allowed[from], to) && !isCmd(from):
				t.Errorf("%s depends on %s of its own layer (%d) without a listed edge, through %s",
					from, to, lf, strings.Join(chain(t, p.ImportPath, d), " -> "))
			}
		}
	}
	for p := range layer {
		if _, ok := allowed[p]; !ok && !isCmd(p) {
			t.Errorf("layer names %s, which the allow-list does not", p)
		}
	}
}

// chain returns one import path from package from to package to (both
// import paths), for the message of a failure.
func chain(t *testing.T, from, to string) []string {
	t.Helper()
	imports := map[string][]string{}
	for _, p := range allPackages(t) {
		imports[p.ImportPath] = p.Imports
	}
	prev := map[string]string{from: ""}
	todo := []string{from}
	for len(todo) > 0 {
		cur := todo[0]
		todo = todo[1:]
		if cur == to {
			var out []string
			for p := to; p != ""; p = prev[p] {
				out = append(out, p)
			}
			slices.Reverse(out)
			return out
		}
		for _, n := range imports[cur] {
			if _, seen := prev[n]; !seen {
				prev[n] = cur
				todo = append(todo, n)
			}
		}
	}
	return []string{from, "?", to}
}

// allPackages lists every package the module's packages depend on, with
// its imports.
func allPackages(t *testing.T) []pkg {
	t.Helper()
	return decodePackages(t, goCmd(t, "list", "-deps", "-e", "-json=ImportPath,Imports", "./..."))
}
