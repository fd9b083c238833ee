package deptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vigil/internal/fimtest"
)

// TestNixPackageVendorHash: nix/package.nix's vendorHash is the NAR hash
// of what `go mod vendor` makes of go.mod and go.sum, computed offline
// with Debian's nix (nix hash path), as buildGoModule will find it. Long
// tier: it copies every module the build and tests use (about 160 MB).
func TestNixPackageVendorHash(t *testing.T) {
	fimtest.Long(t, "go mod vendor of every module")
	nixBin, err := exec.LookPath("nix")
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_ROOT_TESTS") != "" {
			t.Fatalf("nix not found (apt-get install nix-bin): %v", err)
		}
		t.Skipf("nix not found (apt-get install nix-bin): %v", err)
	}
	root := moduleRoot(t)
	pkg, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`vendorHash = "(sha256-[A-Za-z0-9+/=]+)";`).FindSubmatch(pkg)
	if m == nil {
		t.Fatal("nix/package.nix: no vendorHash = \"sha256-...\"; line")
	}
	dir := filepath.Join(t.TempDir(), "vendor")
	goCmd(t, "mod", "vendor", "-o", dir)
	state := t.TempDir()
	cmd := exec.Command(nixBin, "--extra-experimental-features", "nix-command", "hash", "path", dir)
	cmd.Env = append(os.Environ(), "NIX_STATE_DIR="+state, "NIX_CONF_DIR="+state, "NIX_LOG_DIR="+state)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix hash path %s: %v", dir, err)
	}
	if got := strings.TrimSpace(string(out)); got != string(m[1]) {
		t.Errorf("nix hash path of go mod vendor's output = %s; nix/package.nix's vendorHash = %s: set it to the new hash", got, m[1])
	}
}
