package nix_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/nix"
)

func TestReadConf(t *testing.T) {
	root := t.TempDir()
	s := nix.Store{Root: root}
	c, err := s.ReadConf()
	if err != nil || !c.RequireSigs || len(c.TrustedKeys) != 0 {
		t.Fatalf("ReadConf(no nix.conf) = %+v, %v; want Nix's defaults", c, err)
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key := "cache.example-1:" + base64.StdEncoding.EncodeToString(pub)
	conf := filepath.Join(root, "etc/nix/nix.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# keys\ntrusted-public-keys = " + key + "\nextra-trusted-public-keys = " + key + " # twice\nrequire-sigs = false\n")
	c, err = s.ReadConf()
	if err != nil || c.RequireSigs || len(c.TrustedKeys) != 2 || c.TrustedKeys[0].Name != "cache.example-1" {
		t.Fatalf("ReadConf = %+v, %v; want two keys named cache.example-1, require-sigs false", c, err)
	}
	write("trusted-public-keys = broken:AAAA\n")
	if _, err := s.ReadConf(); err == nil || !strings.Contains(err.Error(), conf) {
		t.Errorf("ReadConf(a key that does not parse) = %v, want an error naming %s", err, conf)
	}
}
