package config

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics and that what it returns is
// consistent: a config that validates, compiles and digests, or problems
// that all are *Problem with a line inside the text.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		string(DefaultText()), matchConfig, digestBase, "",
		"roots = [\"/etc\", 5]\nrule = [1, {paths = ['/x']}]\n[scan]\nx = { y = [1, [2]] }\n",
		"roots = ['/a']\n[[rule]]\nname = \"\"\"\n[x]\"\"\"\npaths = ['/a/{b,c}']\nignore = ['all']\n",
		"a.b.\"c d\" = 1\n[[rule.x]]\n[rule]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted %q but Validate says %v", data, verr)
			}
			if _, merr := c.Matcher(); merr != nil {
				t.Fatalf("Parse accepted %q but Matcher says %v", data, merr)
			}
			if d := c.Digest(); len(d) != 64 {
				t.Fatalf("Digest() = %q, want 64 hex digits", d)
			}
			return
		}
		if c != nil {
			t.Fatalf("Parse(%q) returned a config and %v", data, err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range messagesOf(err) {
			var p *Problem
			if !errors.As(e, &p) {
				t.Fatalf("Parse(%q): problem %v is %T, want *Problem", data, e, e)
			}
			if p.File != "f.toml" || p.Line < 0 || p.Line > lines || p.Msg == "" {
				t.Fatalf("Parse(%q): bad problem %+v (text has %d lines)", data, p, lines)
			}
		}
	})
}

// messagesOf returns the errors joined in err.
func messagesOf(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
