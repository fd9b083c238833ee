package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/config"
)

func TestNixTable(t *testing.T) {
	dir := t.TempDir()
	load := func(t *testing.T, body string) (*config.Config, error) {
		t.Helper()
		p := filepath.Join(dir, "vigil.toml")
		if err := os.WriteFile(p, []byte("roots = [\"/etc\"]\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return config.Load(p)
	}
	c, err := load(t, "")
	if err != nil || c.Nix.Enabled != nil || c.Nix.SnapshotPath() != config.DefaultNixSnapshot || c.Nix.RootDir() != "/" {
		t.Fatalf("Load(no [nix]) = %+v, %v; want enabled unset, default snapshot and root", c.Nix, err)
	}
	c, err = load(t, "[nix]\nenabled = false\nsnapshot = \"/etc/nix.json\"\nroot = \"/srv/host\"\n")
	if err != nil || c.Nix.Enabled == nil || *c.Nix.Enabled || c.Nix.SnapshotPath() != "/etc/nix.json" || c.Nix.RootDir() != "/srv/host" {
		t.Fatalf("Load([nix] set) = %+v, %v", c.Nix, err)
	}
	_, err = load(t, "[nix]\nenabled = \"yes\"\nsnapshot = \"etc/x\"\nbogus = 1\n")
	for _, want := range []string{"nix.enabled", "nix.snapshot", "nix.bogus"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(bad [nix]) = %v, want a problem naming %s", err, want)
		}
	}
}
