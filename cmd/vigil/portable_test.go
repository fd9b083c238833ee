//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/fimtest"
)

// portableRoots takes a baseline of tree as /etc, in a mount namespace of
// its own (tree bound over /etc there: the host's mounts are untouched),
// and returns status's attested and portable roots. Two hosts monitor the
// same paths: the copies must sit at one path to compare.
func portableRoots(t *testing.T, tree string, extra ...string) (attested, portable string) {
	t.Helper()
	vigil := buildVigil(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "vigil.toml")
	text := fmt.Sprintf("database = %q\nroots = [\"/etc\"]\n", filepath.Join(dir, "vigil.db")) + strings.Join(extra, "")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount --bind "$1" /etc
"$2" --config "$3" --quiet init
"$2" --config "$3" status --json`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", tree, vigil, conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("init and status of %s as /etc: %v\n%s%s", tree, err, out, stderr.String())
	}
	var st struct {
		Current struct {
			Root string `json:"root"`
		} `json:"current"`
		Portable string `json:"portable_root"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Portable == "" {
		t.Fatalf("status --json: %v, no portable_root:\n%s", err, out)
	}
	return st.Current.Root, st.Portable
}

// TestPortableRootAcrossCopies: one tree copied with cp -a onto ext4 and
// with plain cp (new inodes, mtimes and ctimes) onto Btrfs has one portable
// root and two attested roots; a byte, a mode or an added file on one copy
// moves its portable root, and the host's own paths (machine-id) do not.
func TestPortableRootAcrossCopies(t *testing.T) {
	fimtest.NeedRoot(t, "loop-mounted ext4 and Btrfs, a mount namespace")
	fimtest.Long(t, "four loop filesystems and eight baselines")
	src := t.TempDir()
	fimtest.Tree{
		"ssh/sshd_config":          fimtest.File("PermitRootLogin no\n"),
		"ssh/ssh_host_ed25519_key": fimtest.File("host key A").Mode(0o600),
		"machine-id":               fimtest.File("0123456789abcdef\n"),
		"nixos/configuration.nix":  fimtest.File("{ }\n"),
		"profile":                  fimtest.Symlink("/etc/static/profile"),
		"sudoers.d":                fimtest.Dir(0o750),
		"sudoers.d/ops":            fimtest.File("%ops ALL=(ALL) ALL\n").Mode(0o440),
	}.Make(t, src)
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo := func(fs string, args ...string) string {
		dst := filepath.Join(fimtest.LoopFS(t, fs, 256<<20, ""), "etc")
		fimtest.Command(t, "cp", append(args, src, dst)...)
		return dst
	}
	a := copyTo("ext4", "-a")
	b := copyTo("btrfs", "-r", "--preserve=mode,ownership,links")

	attA, portA := portableRoots(t, a)
	attB, portB := portableRoots(t, b)
	if portA != portB {
		t.Errorf("cp -a onto ext4 and plain cp onto Btrfs: portable roots %s and %s, want one", portA, portB)
	}
	if attA == attB {
		t.Errorf("the attested roots of the two copies are equal (%s): inodes and times are attested", attA)
	}

	// The host's own paths are left out: another host's machine-id and
	// host key change nothing.
	os.WriteFile(filepath.Join(b, "machine-id"), []byte("fedcba9876543210\n"), 0o444)
	os.WriteFile(filepath.Join(b, "ssh/ssh_host_ed25519_key"), []byte("host key B"), 0o600)
	if _, p := portableRoots(t, b); p != portA {
		t.Errorf("another machine-id and host key: portable root %s, want %s", p, portA)
	}
	// Where the profile says nothing is the host's own, they count.
	noneOwn := "[fleet]\nurl = \"nats://127.0.0.1:1\"\nhost_specific = []\n"
	if _, pa := portableRoots(t, a, noneOwn); pa == portA {
		t.Error("fleet.host_specific = []: the portable root still leaves machine-id out")
	} else if _, pb := portableRoots(t, b, noneOwn); pb == pa {
		t.Error("fleet.host_specific = []: another machine-id and host key leave the portable root as it was")
	}
	for name, change := range map[string]func(root string) error{
		"one byte": func(r string) error {
			return os.WriteFile(filepath.Join(r, "ssh/sshd_config"), []byte("PermitRootLogin ye\n"), 0o644)
		},
		"mode":  func(r string) error { return os.Chmod(filepath.Join(r, "sudoers.d/ops"), 0o644) },
		"added": func(r string) error { return os.WriteFile(filepath.Join(r, "sudoers.d/zz"), []byte("x"), 0o440) },
	} {
		c := copyTo("ext4", "-a")
		if err := change(c); err != nil {
			t.Fatal(err)
		}
		if _, p := portableRoots(t, c); p == portA {
			t.Errorf("%s: the portable root did not move (%s)", name, strings.TrimSpace(p))
		}
	}
}
