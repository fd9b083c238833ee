package nix_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/fimtest"
	"vigil/internal/nix"
)

// testStore is a real Nix store built by Debian's nix-bin in a temporary
// directory: nix runs in a private mount namespace where that directory's
// nix/ is bind-mounted over /nix, so the host's /nix is never touched.
type testStore struct {
	nix.Store
	added []string // store paths added by nix-store --add
	sys   []string // the system generations' top-level paths, oldest first
	lib   string   // a path every generation refers to
}

func nixRun(t testing.TB, root, script string) string { return fimtest.NixRun(t, root, script) }

func shq(s string) string { return fimtest.ShellQuote(s) }

// newTestStore builds a store of n content-addressed paths (nix-store
// --add of generated trees) and a system profile of one generation whose
// top-level path refers to a library path, which refers to the first added
// paths; /run/current-system points at it.
func newTestStore(t testing.TB, n int) *testStore {
	t.Helper()
	fimtest.NeedNix(t)
	root := t.TempDir()
	src := filepath.Join(root, "src")
	for _, d := range []string{"nix", "src", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var args []string
	for i := range n {
		d := filepath.Join(src, fmt.Sprintf("pkg%d", i))
		makeTree(t, d, i)
		args = append(args, shq(d))
	}
	out := nixRun(t, root, "nix-store --add "+strings.Join(args, " "))
	ts := &testStore{Store: nix.Store{Root: root}, added: strings.Fields(out)}
	if len(ts.added) != n {
		t.Fatalf("nix-store --add %d trees: %d paths", n, len(ts.added))
	}
	ts.lib = ts.register(t, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib", ts.added[:min(3, n)])
	ts.addGeneration(t, "cccccccccccccccccccccccccccccccc-nixos-system-1", []string{ts.lib})
	return ts
}

// makeTree writes a small package tree, different for each i: regular
// files, an executable, a symlink, an empty file and directory.
func makeTree(t testing.TB, dir string, i int) {
	t.Helper()
	files := map[string]string{
		"bin/tool":         fmt.Sprintf("#!/bin/sh\necho %d\n", i),
		"lib/libx.so":      strings.Repeat(fmt.Sprintf("lib %d ", i), 100+i*37),
		"share/doc/README": fmt.Sprintf("package %d\n", i),
		"share/empty":      "",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../lib/libx.so", filepath.Join(dir, "bin/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "share/emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// register puts a new input-addressed path (not signed, not
// content-addressed) into the store with references refs, through
// nix-store --register-validity, which computes its NAR hash.
func (ts *testStore) register(t testing.TB, name string, refs []string) string {
	t.Helper()
	p := nix.StoreDir + "/" + name
	dir := ts.Real(p)
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/refs"), []byte(strings.Join(refs, "\n")), 0o444); err != nil {
		t.Fatal(err)
	}
	in := p + "\n\n" + fmt.Sprint(len(refs)) + "\n"
	for _, r := range refs {
		in += r + "\n"
	}
	nixRun(t, ts.Root, "printf %s "+shq(in)+" | nix-store --register-validity")
	return p
}

// addGeneration registers a system top-level path referring to refs and
// makes it the next generation of the system profile (nix-env --set) and
// /run/current-system.
func (ts *testStore) addGeneration(t testing.TB, name string, refs []string) string {
	t.Helper()
	p := ts.register(t, name, refs)
	nixRun(t, ts.Root, "nix-env -p /nix/var/nix/profiles/system --set "+shq(p))
	cur := ts.Real("/run/current-system")
	if err := os.Remove(cur); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(p, cur); err != nil {
		t.Fatal(err)
	}
	ts.sys = append(ts.sys, p)
	return p
}
