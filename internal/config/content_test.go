package config

import (
	"testing"

	"vigil/merkle"
)

func TestDefaultContent(t *testing.T) {
	m, err := Default().Matcher()
	if err != nil {
		t.Fatal(err)
	}
	for path, keep := range map[string]bool{
		"/etc/ssh/sshd_config":          true,
		"/etc/passwd":                   true,
		"/etc/sudoers.d/admins":         true,
		"/etc/shadow":                   false,
		"/etc/gshadow":                  false,
		"/etc/passwd-":                  false,
		"/etc/ssh/ssh_host_ed25519_key": false,
		"/etc/ssl/private/server.key":   false,
		"/etc/pki/tls/x.key":            false,
		"/etc/krb5.keytab":              false,
		"/etc/wireguard/wg0.conf":       false,
		"/usr/bin/ls":                   false,
	} {
		if got := m.Content(path); got.Keep != keep || (keep && got.Limit() != DefaultDiffMax) {
			t.Errorf("Default Content(%s) = %+v, want keep %v, limit %d", path, got, keep, DefaultDiffMax)
		}
	}
	// Content rules decide no attributes: the churning bookkeeping rule
	// still decides /etc/.pwd.lock.
	if attrs, _ := m.Match("/etc/.pwd.lock"); attrs.Has(merkle.AttrContent) {
		t.Errorf("Match(/etc/.pwd.lock) = %v: a diff rule took over its attributes", attrs)
	}
}

func TestContentKeys(t *testing.T) {
	c := mustParse(t, `roots = ["/etc"]
[[rule]]
paths = ["/etc/app/**"]
ignore = ["mtime"]
diff = true
diff_max = "1MiB"
diff_private = true
[[rule]]
paths = ["/etc/app/big"]
diff = false
`)
	m, err := c.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Content("/etc/app/x"), (Content{Set: true, Keep: true, Max: 1 << 20, Private: true}); got != want {
		t.Errorf("Content(/etc/app/x) = %+v, want %+v", got, want)
	}
	if got := m.Content("/etc/app/big"); got.Keep || !got.Set {
		t.Errorf("Content(/etc/app/big) = %+v, want set, not kept", got)
	}
	if attrs, _ := m.Match("/etc/app/big"); attrs.Has(merkle.AttrMtime) {
		t.Errorf("Match(/etc/app/big) = %v: the diff-only rule replaced the attributes of the rule before it", attrs)
	}
	for _, bad := range []string{
		"[[rule]]\npaths = [\"/etc/x\"]\ndiff_max = \"1KiB\"\nignore = []",
		"[[rule]]\npaths = [\"/etc/x\"]\ndiff = true\ndiff_max = \"1GiB\"",
		"[[rule]]\npaths = [\"/etc/x\"]\ndiff = \"yes\"",
	} {
		if _, err := Parse("t.toml", []byte("roots = [\"/etc\"]\n"+bad)); err == nil {
			t.Errorf("Parse(%q): no problem", bad)
		}
	}
}
