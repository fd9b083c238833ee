package config

import (
	"testing"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("t.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return c
}

const digestBase = `roots = ["/etc", "/usr/bin"]
exclude = ["/etc/mtab", "/etc/**/.*.swp"]
max_hash_size = 1024
[[rule]]
name = "a"
paths = ["/etc/x", "/etc/y"]
ignore = ["content"]
[[rule]]
name = "b"
paths = ["/etc/z"]
attributes = ["mode"]
`

func TestDigestKnownAnswer(t *testing.T) {
	// Changing this value means existing baselines will see a new
	// configuration digest: bump digestTag when the encoding changes.
	const want = "f9fd4df5179b56eabc8c5d59fb34b38c2bbb1c9382f85d44165061d3d81e8294"
	if got := mustParse(t, digestBase).Digest(); got != want {
		t.Errorf("Digest() = %s, want %s", got, want)
	}
}

func TestDigestIgnoresFormatting(t *testing.T) {
	base := mustParse(t, digestBase).Digest()
	same := `# reordered, reformatted, defaults spelled out
max_hash_size = "1KiB"
database = "/var/lib/vigil/vigil.db"
keep = 5
exclude = [ "/etc/**/.*.swp", "/etc/mtab" ]
roots = ["/usr/bin",
         "/etc"]
cross_filesystems = false
[scan]
dir_workers = 0
[[rule]]
ignore = ["content"]
paths = ["/etc/y", "/etc/x"]
name = "a"
[[rule]]
name = "b"
attributes = ["mode", "type"]
paths = ["/etc/z"]
`
	if got := mustParse(t, same).Digest(); got != base {
		t.Errorf("Digest of an equivalent config = %s, want %s", got, base)
	}
	c := mustParse(t, digestBase)
	c.Source = "elsewhere"
	if got := c.Digest(); got != base {
		t.Errorf("Digest after changing Source = %s, want %s", got, base)
	}
}

func TestDigestSensitive(t *testing.T) {
	base := mustParse(t, digestBase).Digest()
	for _, row := range []struct {
		name   string
		change func(*Config)
	}{
		{"root added", func(c *Config) { c.Roots = append(c.Roots, "/boot") }},
		{"root moved", func(c *Config) { c.Roots = []string{"/etc", "/usr/bin/"} }},
		{"exclude dropped", func(c *Config) { c.Exclude = c.Exclude[:1] }},
		{"exclude into root", func(c *Config) { c.Exclude = nil; c.Roots = append(c.Roots, "/etc/mtab") }},
		{"cross filesystems", func(c *Config) { c.CrossFilesystems = true }},
		{"max hash size", func(c *Config) { c.MaxHashSize = 1025 }},
		{"rule attrs", func(c *Config) { c.Rules[0].Attrs &^= 1 << 2 }},
		{"rule path", func(c *Config) { c.Rules[1].Paths = []string{"/etc/zz"} }},
		{"rule order", func(c *Config) { c.Rules[0], c.Rules[1] = c.Rules[1], c.Rules[0] }},
		{"rule dropped", func(c *Config) { c.Rules = c.Rules[:1] }},
		{"exclude_files", func(c *Config) { c.ExcludeFiles = []string{"/etc/**/.#*"} }},
		{"exclude moved to exclude_files", func(c *Config) { c.ExcludeFiles, c.Exclude = c.Exclude[1:], c.Exclude[:1] }},
	} {
		c := mustParse(t, digestBase)
		row.change(c)
		if got := c.Digest(); got == base {
			t.Errorf("%s: Digest() = %s, the same as before the change", row.name, got)
		}
	}
}

// TestDigestIgnoresBookkeeping: values that do not change what a baseline
// holds do not change the digest, so that moving the database or tuning
// the workers raises no "configuration changed" warning.
func TestDigestIgnoresBookkeeping(t *testing.T) {
	base := mustParse(t, digestBase).Digest()
	for _, row := range []struct {
		name   string
		change func(*Config)
	}{
		{"database", func(c *Config) { c.Database = "/x.db" }},
		{"keep", func(c *Config) { c.Keep++ }},
		{"hash workers", func(c *Config) { c.HashWorkers = 2 }},
		{"dir workers", func(c *Config) { c.DirWorkers = 2 }},
		{"rule name", func(c *Config) { c.Rules[1].Name = "c" }},
		{"reread_within", func(c *Config) { c.RereadWithin = 0 }},
		{"trust", func(c *Config) { c.Trust.Pubkey = "/etc/vigil/vigil.pub" }},
		{"phase", func(c *Config) { c.Phase.HardenedMarkers = []string{"/x"} }},
	} {
		c := mustParse(t, digestBase)
		row.change(c)
		if got := c.Digest(); got != base {
			t.Errorf("%s: Digest() = %s, want it unchanged (%s)", row.name, got, base)
		}
	}
}
