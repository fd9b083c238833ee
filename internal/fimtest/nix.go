package fimtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NixRun runs script with bash in a private mount namespace where
// root/nix is bind-mounted over /nix, and returns its stdout: Debian's
// nix-bin then builds a real Nix store in root/nix, and the host's /nix
// is never touched. It needs root (NeedRoot) and nix-store on PATH
// (NeedNix).
func NixRun(t testing.TB, root, script string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	full := "set -eu\nmount --bind " + ShellQuote(filepath.Join(root, "nix")) + " /nix\n" + script
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c", full)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = append(os.Environ(), "NIX_REMOTE=", "NIX_CONFIG=build-users-group =\nsandbox = false")
	if err := cmd.Run(); err != nil {
		t.Fatalf("nix script: %v\n%s\nscript:\n%s", err, stderr.String(), script)
	}
	return out.String()
}

// NeedNix skips t unless nix-store is on PATH; with RequireRootEnv set (CI,
// whose .ci/run installs nix-bin) it fails t instead.
func NeedNix(t testing.TB) {
	t.Helper()
	NeedRoot(t, "a Nix store is built in a mount namespace")
	if st, err := os.Stat("/nix"); err != nil || !st.IsDir() {
		// The mount point of the tests' stores; .ci/run makes it.
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatalf("/nix is not a directory (the mount point of the tests' Nix stores: mkdir /nix): %v", err)
		}
		t.Skipf("/nix is not a directory (the mount point of the tests' Nix stores: mkdir /nix): %v", err)
	}
	if _, err := exec.LookPath("nix-store"); err != nil {
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatalf("nix-store not found (apt-get install nix-bin): %v", err)
		}
		t.Skipf("nix-store not found (apt-get install nix-bin): %v", err)
	}
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
