package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/fimtest"
)

// nixHost is a host directory holding a real Nix store (host/nix), a
// system profile and /run/current-system, and /etc (vigil's one root),
// with a configuration pointing [nix] at it.
type nixHost struct {
	setup
	host  string
	paths []string
}

func newNixHost(t *testing.T, n int) nixHost {
	t.Helper()
	fimtest.NeedNix(t)
	host := t.TempDir()
	dir := t.TempDir()
	var srcs []string
	for i := range n {
		d := filepath.Join(dir, "src", fmt.Sprintf("pkg%d", i))
		fimtest.Tree{
			"bin/tool":    fimtest.File(fmt.Sprintf("#!/bin/sh\necho %d\n", i)).Mode(0o755),
			"lib/libx.so": fimtest.File(strings.Repeat(fmt.Sprintf("lib %d ", i), 50)),
			"bin/link":    fimtest.Symlink("../lib/libx.so"),
		}.Make(t, mkdir(t, d))
		srcs = append(srcs, fimtest.ShellQuote(d))
	}
	paths := strings.Fields(fimtest.NixRun(t, host, "nix-store --add "+strings.Join(srcs, " ")))
	h := nixHost{host: host, paths: paths}
	h.generation(t, "cccccccccccccccccccccccccccccccc-nixos-system-1", paths[:2])
	// The system paths are registered, not built or signed: no require-sigs.
	fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0::/root:/bin/sh\n"), "etc/vigil": fimtest.Dir(0o755),
		"etc/nix/nix.conf": fimtest.File("require-sigs = false\n")}.Make(t, host)
	h.setup = setup{root: filepath.Join(host, "etc"), db: filepath.Join(dir, "vigil.db"), config: filepath.Join(dir, "vigil.toml")}
	text := fmt.Sprintf("database = %q\nroots = [%q]\n\n[nix]\nroot = %q\nsnapshot = %q\n",
		h.db, h.root, host, filepath.Join(host, "etc/vigil/nix-store.json"))
	must(t, os.WriteFile(h.config, []byte(text), 0o644))
	return h
}

func mkdir(t *testing.T, d string) string {
	t.Helper()
	must(t, os.MkdirAll(d, 0o755))
	return d
}

// generation registers a system top-level path referring to refs and
// makes it the system profile's next generation and /run/current-system.
func (h nixHost) generation(t *testing.T, name string, refs []string) string {
	t.Helper()
	p := "/nix/store/" + name
	fimtest.Tree{"etc/refs": fimtest.File(strings.Join(refs, "\n"))}.Make(t, mkdir(t, filepath.Join(h.host, p)))
	in := fmt.Sprintf("%s\n\n%d\n", p, len(refs))
	for _, r := range refs {
		in += r + "\n"
	}
	fimtest.NixRun(t, h.host, "printf %s "+fimtest.ShellQuote(in)+" | nix-store --register-validity\n"+
		"nix-env -p /nix/var/nix/profiles/system --set "+p)
	cur := filepath.Join(mkdir(t, filepath.Join(h.host, "run")), "current-system")
	if err := os.Remove(cur); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	must(t, os.Symlink(p, cur))
	return p
}

// TestNixCommands: snapshot, accept it with update, check clean (exit 0);
// a new generation is a closure finding (nix diff names its generation);
// a byte changed in a store file is found and named (exit 4); a snapshot
// edited behind the baseline's back is not used (exit 8).
func TestNixCommands(t *testing.T) {
	h := newNixHost(t, 20)
	mustRun(t, exitOK, h.args("init")...)
	mustRun(t, exitOK, h.args("nix", "snapshot")...)
	mustRun(t, exitChanged|exitAdded, h.args("check")...) // the snapshot is new: not accepted yet
	mustRun(t, exitTampered, h.args("nix", "check")...)   // ... so not used
	mustRun(t, exitOK, h.args("update")...)
	mustRun(t, exitOK, h.args("check")...) // the Nix part included: the baseline records a snapshot
	out := mustRun(t, exitOK, h.args("nix", "check")...)
	if out.stdout != "" {
		t.Errorf("nix check --quiet of an untouched store printed %q", out.stdout)
	}

	gen2 := h.generation(t, "dddddddddddddddddddddddddddddddd-nixos-system-2", h.paths[:3])
	out = mustRun(t, exitAdded, h.args("nix", "diff")...)
	for _, want := range []string{"+ nix_closure_added " + gen2, "+ nix_closure_added " + h.paths[2], "generation 2"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("nix diff after generation 2:\n%s\nwant a line with %q", out.stdout, want)
		}
	}
	if strings.Contains(out.stdout, h.paths[0]) {
		t.Errorf("nix diff names %s, which the sealed closure held:\n%s", h.paths[0], out.stdout)
	}

	lib := filepath.Join(h.host, h.paths[5], "lib/libx.so")
	data, err := os.ReadFile(lib)
	must(t, err)
	data[0] ^= 1
	must(t, os.WriteFile(lib, data, 0o444))
	out = mustRun(t, exitChanged|exitAdded, h.args("nix", "check", "--json")...)
	if !strings.Contains(out.stdout, `"action":"nix_content_changed"`) || !strings.Contains(out.stdout, h.paths[5]) ||
		!strings.Contains(out.stdout, "lib/libx.so") {
		t.Errorf("nix check --json after a byte changed in %s:\n%s\nwant nix_content_changed naming the path and lib/libx.so", lib, out.stdout)
	}

	out = mustRun(t, exitChanged|exitAdded, h.args("check", "--json")...)
	if !strings.Contains(out.stdout, `"action":"nix_content_changed"`) || !strings.Contains(out.stdout, h.paths[5]) {
		t.Errorf("check --json after a byte changed in %s:\n%s\nwant nix_content_changed naming the path", lib, out.stdout)
	}

	snap := filepath.Join(h.host, "etc/vigil/nix-store.json")
	b, err := os.ReadFile(snap)
	must(t, err)
	must(t, os.WriteFile(snap, append(b, ' '), 0o644))
	out = mustRun(t, exitTampered, h.args("nix", "check")...)
	if !strings.Contains(out.stdout, "nix snapshot") {
		t.Errorf("nix check with the snapshot edited: %q, want the snapshot named", out.stdout)
	}
	// check reports the edited file and leaves the Nix part out.
	out = mustRun(t, exitChanged, h.args("check")...)
	if strings.Contains(out.stdout, "nix_") || !strings.Contains(out.stderr, "the Nix store was not checked") {
		t.Errorf("check with the snapshot edited: stdout %q, stderr %q; want no nix finding and a warning", out.stdout, out.stderr)
	}
}
