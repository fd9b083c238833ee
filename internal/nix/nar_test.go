package nix_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"vigil/internal/fimtest"
	"vigil/internal/nix"
)

// TestNARHashesEqualNix: for every path of a real store, the NAR vigil
// writes is byte for byte nix-store --dump's, and its hash is the one
// nix-store -q --hash prints and the database records.
func TestNARHashesEqualNix(t *testing.T) {
	ts := newTestStore(t, fimtest.Rounds(40, 400)) // hundreds of paths in the long tier
	all := append(append([]string{}, ts.added...), ts.lib, ts.sys[0])
	want := strings.Fields(nixRun(t, ts.Root, "nix-store -q --hash "+strings.Join(all, " ")))
	if len(want) != len(all) {
		t.Fatalf("nix-store -q --hash of %d paths: %d lines", len(all), len(want))
	}
	for i, p := range all {
		got, err := nix.HashPath(ts.Real(p))
		if err != nil {
			t.Fatalf("HashPath(%s): %v", p, err)
		}
		if got.String() != want[i] {
			t.Errorf("HashPath(%s) = %s, nix-store -q --hash %s", p, got, want[i])
		}
	}
	for _, p := range all[:5] {
		// In the store's namespace: nix-store never opens the host's /nix.
		dump := []byte(nixRun(t, ts.Root, "nix-store --dump "+shq(ts.Real(p))))
		var buf bytes.Buffer
		n, err := nix.WriteNAR(&buf, ts.Real(p))
		if err != nil || !bytes.Equal(buf.Bytes(), dump) || n != int64(len(dump)) {
			t.Errorf("WriteNAR(%s) = %d bytes, %v; equal to nix-store --dump's %d bytes: %v",
				p, n, err, len(dump), bytes.Equal(buf.Bytes(), dump))
		}
	}
}

// TestNAROddNames: names in byte order (not locale order), non-UTF-8
// names, a symlink at the top, a deep tree; each against nix-store --dump.
func TestNAROddNames(t *testing.T) {
	fimtest.NeedNix(t)
	nixRoot := t.TempDir() // where the nix-store runs see /nix: never the host's
	dir := t.TempDir()
	tree := filepath.Join(dir, "t")
	deep := filepath.Join(tree, "a", "b", "c", "d")
	for _, d := range []string{deep, filepath.Join(tree, "B"), filepath.Join(tree, "é")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"Z", "a.txt", "\xff\xfe", "_", "é/x", "a/b/c/d/leaf"} {
		if err := os.WriteFile(filepath.Join(tree, f), []byte(f+strings.Repeat("x", len(f)*3)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("t/Z", filepath.Join(dir, "top-link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tree, filepath.Join(dir, "top-link"), filepath.Join(tree, "Z")} {
		dump := []byte(nixRun(t, nixRoot, "nix-store --dump "+shq(p)))
		var buf bytes.Buffer
		if _, err := nix.WriteNAR(&buf, p); err != nil {
			t.Fatalf("WriteNAR(%s): %v", p, err)
		}
		if !bytes.Equal(buf.Bytes(), dump) {
			t.Errorf("WriteNAR(%s): %d bytes, sha256 %x; nix-store --dump: %d bytes, sha256 %x",
				p, buf.Len(), sha256.Sum256(buf.Bytes()), len(dump), sha256.Sum256(dump))
		}
	}
}

// TestNARRefusesFIFO: a FIFO in a tree is refused by name, never opened (an
// open of a FIFO with no writer would block).
func TestNARRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := nix.WriteNAR(&bytes.Buffer{}, dir)
	var pe *os.PathError
	if !errors.Is(err, nix.ErrUnsupportedType) || !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "fifo") {
		t.Errorf("WriteNAR(dir with a FIFO) = %v, want ErrUnsupportedType naming %s", err, filepath.Join(dir, "fifo"))
	}
}
