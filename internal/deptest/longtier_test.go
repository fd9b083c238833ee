package deptest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLongTierReachesEveryLongTest: `make unit-long` (the long tier CI runs)
// tests only the packages the Makefile's LONG_RE finds a test file in. A
// test that asks for the long tier some other way (reading VIGIL_LONG
// itself, or fimtest.IsLong alone) in a package LONG_RE does not select
// skips in the short tier and never runs in the long one: the check of
// nix/package.nix's vendorHash went stale that way for two changes of
// go.mod.
func TestLongTierReachesEveryLongTest(t *testing.T) {
	root := moduleRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LONG_RE\s*=\s*(\S+)\s*$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no LONG_RE = ... line")
	}
	selects, err := regexp.Compile(string(m[1]))
	if err != nil {
		t.Fatalf("Makefile's LONG_RE %q: %v", m[1], err)
	}
	asks := regexp.MustCompile(`fimtest\.(Long|Rounds|IsLong)\(|"VIGIL_LONG"|LongEnv\b`)
	selected := map[string]bool{} // package directories make unit-long tests
	askers := map[string]string{} // package directory -> a file in it that asks for the tier
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dir := filepath.Dir(p)
		if selects.Match(src) {
			selected[dir] = true
		}
		if asks.Match(src) && filepath.Base(p) != "longtier_test.go" { // not this test's own pattern
			askers[dir] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(selected) == 0 {
		t.Fatalf("LONG_RE %q selects no package", m[1])
	}
	for dir, file := range askers {
		rel, _ := filepath.Rel(root, dir)
		if rel == filepath.Join("internal", "fimtest") {
			continue // the tier's own definition
		}
		if !selected[dir] {
			frel, _ := filepath.Rel(root, file)
			t.Errorf("%s asks for the long tier, but no test file of ./%s matches the Makefile's LONG_RE %q: make unit-long never runs it (use fimtest.Long or fimtest.Rounds)", frel, rel, m[1])
		}
	}
}
