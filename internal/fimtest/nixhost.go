package fimtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NixHost is a host directory holding a real Nix store (Dir/nix, built by
// Debian's nix-bin through [NixRun]), a system profile with
// /run/current-system, and an /etc (etc/nix/nix.conf with require-sigs =
// false: the system paths are registered, not built or signed).
type NixHost struct {
	Dir   string
	Paths []string // the paths nix-store --add made, in order
}

// NewNixHost builds a host whose store holds n small package trees and
// one system generation referring to the first two. It needs what NixRun
// needs (NeedNix).
func NewNixHost(t testing.TB, n int) *NixHost {
	t.Helper()
	NeedNix(t)
	h := &NixHost{Dir: t.TempDir()}
	src := t.TempDir()
	var args []string
	for i := range n {
		d := filepath.Join(src, fmt.Sprintf("pkg%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		Tree{
			"bin/tool":    File(fmt.Sprintf("#!/bin/sh\necho %d\n", i)).Mode(0o755),
			"lib/libx.so": File(strings.Repeat(fmt.Sprintf("lib %d ", i), 50)),
			"bin/link":    Symlink("../lib/libx.so"),
		}.Make(t, d)
		args = append(args, ShellQuote(d))
	}
	h.Paths = strings.Fields(NixRun(t, h.Dir, "nix-store --add "+strings.Join(args, " ")))
	if len(h.Paths) != n {
		t.Fatalf("nix-store --add of %d trees made %d paths", n, len(h.Paths))
	}
	Tree{"etc/vigil": Dir(0o755), "etc/nix/nix.conf": File("require-sigs = false\n")}.Make(t, h.Dir)
	h.Generation(t, "cccccccccccccccccccccccccccccccc-nixos-system-1", h.Paths[:min(2, n)])
	return h
}

// Generation registers a system top-level path /nix/store/name referring
// to refs and makes it the system profile's next generation (nix-env
// --set, which moves /nix/var/nix/profiles/system) and
// /run/current-system. It returns the store path.
func (h *NixHost) Generation(t testing.TB, name string, refs []string) string {
	t.Helper()
	p := "/nix/store/" + name
	dir := filepath.Join(h.Dir, p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Tree{"etc/refs": File(strings.Join(refs, "\n"))}.Make(t, dir)
	in := fmt.Sprintf("%s\n\n%d\n", p, len(refs))
	for _, r := range refs {
		in += r + "\n"
	}
	NixRun(t, h.Dir, "printf %s "+ShellQuote(in)+" | nix-store --register-validity\n"+
		"nix-env -p /nix/var/nix/profiles/system --set "+p)
	run := filepath.Join(h.Dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(run, "current-system")
	if err := os.Remove(cur); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(p, cur); err != nil {
		t.Fatal(err)
	}
	return p
}
