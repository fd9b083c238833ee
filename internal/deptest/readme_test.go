package deptest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEPackageMap checks that the package map of the README (the
// first code block under "## How it works") lists every package, and no
// package that is gone.
func TestREADMEPackageMap(t *testing.T) {
	path := filepath.Join(moduleRoot(t), "README.md")
	listed, err := readmePackages(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) == 0 {
		t.Fatalf("%s: no package map found in the first code block under %q", path, readmeMapHeading)
	}
	seen := map[string]bool{}
	for _, p := range vigilPackages(t) {
		r, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		seen[r] = true
		if !listed[r] {
			t.Errorf("%s: the package map under %q does not list package %s: add a line for it", path, readmeMapHeading, r)
		}
	}
	for p := range listed {
		if !seen[p] {
			t.Errorf("%s: the package map under %q lists %s, which go list does not find", path, readmeMapHeading, p)
		}
	}
}

const readmeMapHeading = "## How it works"

// readmePackages returns the first word of each line of the first fenced
// block after readmeMapHeading.
func readmePackages(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	state := 0 // 0: before the heading, 1: before the block, 2: in it
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && line == readmeMapHeading:
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && strings.HasPrefix(line, "```"):
			return out, nil
		case state == 2:
			if f := strings.Fields(line); len(f) > 0 {
				out[f[0]] = true
			}
		}
	}
	return out, sc.Err()
}
