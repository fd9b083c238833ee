package config

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"

	"vigil/merkle"
)

const matchConfig = `roots = ["/"]
database = "/vigil.db"
exclude = ["/vigil.db", "/var/log/**", "/etc/mtab", "/**/*.swp", "/proc", "/home/*/.cache/**"]
[[rule]]
name = "var"
paths = ["/var/**"]
ignore = ["content"]
[[rule]]
name = "etc"
paths = ["/etc/**"]
attributes = ["mode"]
[[rule]]
name = "exceptions"
paths = ["/etc/shadow", "/etc/ssh/*.pub"]
attributes = ["content"]
[[rule]]
name = "also excluded"
paths = ["/var/log/syslog"]
attributes = ["uid"]
[[rule]]
name = "literal first"
paths = ["/opt/app/conf"]
attributes = ["gid"]
[[rule]]
name = "glob later"
paths = ["/opt/app/*"]
attributes = ["size"]
`

func TestMatch(t *testing.T) {
	m, err := mustParse(t, matchConfig).Matcher()
	if err != nil {
		t.Fatalf("Matcher: %v", err)
	}
	const all, typ = merkle.AttrAll, merkle.AttrType
	for _, row := range []struct {
		name     string
		path     string
		attrs    merkle.Attr
		excluded bool
	}{
		{"no rule", "/usr/bin/ls", all, false},
		{"root", "/", all, false},
		{"dir pattern matches the dir", "/var/log", typ, true},
		{"below excluded dir pattern", "/var/log/apt/history.log", typ, true},
		{"exclude beats a later rule", "/var/log/syslog", typ, true},
		{"sibling of excluded dir", "/var/logs", all &^ merkle.AttrContent, false},
		{"rule on the dir itself", "/var", all &^ merkle.AttrContent, false},
		{"literal exclude", "/etc/mtab", typ, true},
		{"literal exclude is exact", "/etc/mtab2", typ | merkle.AttrMode, false},
		{"suffix glob anywhere", "/home/u/.notes.swp", typ, true},
		{"suffix glob at top", "/x.swp", typ, true},
		{"suffix glob needs the suffix", "/home/u/x.swp2", all, false},
		{"glob in the middle", "/home/u/.cache/a/b", typ, true},
		{"glob in the middle, other dir", "/home/u/.cachet", all, false},
		{"last rule wins", "/etc/shadow", typ | merkle.AttrContent, false},
		{"last rule wins, glob", "/etc/ssh/host.pub", typ | merkle.AttrContent, false},
		{"star stays in one element", "/etc/ssh/sub/host.pub", typ | merkle.AttrMode, false},
		{"earlier rule", "/etc/passwd", typ | merkle.AttrMode, false},
		{"later glob beats earlier literal", "/opt/app/conf", typ | merkle.AttrSize, false},
		{"later glob alone", "/opt/app/bin", typ | merkle.AttrSize, false},
		{"excluded database", "/vigil.db", typ, true},
		// Match judges a path alone; the scanner never asks about /proc/1
		// because it does not descend into excluded /proc.
		{"literal exclude is not a subtree", "/proc/1", all, false},
	} {
		attrs, excluded := m.Match(row.path)
		if attrs != row.attrs || excluded != row.excluded {
			t.Errorf("%s: Match(%q) = %v, %v; want %v, %v", row.name, row.path, attrs, excluded, row.attrs, row.excluded)
		}
		if !attrs.Has(merkle.AttrType) {
			t.Errorf("%s: Match(%q) attrs = %v, want it to include type", row.name, row.path, attrs)
		}
	}
}

func TestMatcherRejectsBadPatterns(t *testing.T) {
	c := &Config{Exclude: []string{"/ok", "rel"}, Rules: []Rule{{Paths: []string{"/a/["}}}}
	_, err := c.Matcher()
	want := []string{
		`exclude[1]: pattern "rel" must start with "/": patterns match absolute paths`,
		`rule[0].paths[0]: pattern "/a/[" is not a valid glob`,
	}
	if got := messages(err); !equalStrings(got, want) {
		t.Errorf("Matcher() = %q, want %q", got, want)
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

var (
	differentialPatterns = []string{
		"/a", "/a/b", "/**", "/*", "/**/*", "/a/**", "/a/**/b", "/**/*.swp", "/**/.#*",
		"/a/**/x*y", "/a/*", "/a/*/c", "/a/{b,c}/**", "/a/b*", "/a/**.txt", "/{a,b}/**/c",
		`/a/\*`, "/a/[bc]", "/a/[!b]*", "/a/**/**", "/**/a/**", "/a?", "/a/**/{x,y/z}",
		"/etc/{passwd,shadow}{.lock,+}", "/a/**/b/**", "/a{,/**}", "/**/b", "/a/**/[xy]",
		"/a*a", "/a/**/*b*", `/a/\[b]`, "/a/b/**/c/*.d",
		"/a/{b,c{d,e}}", "/{a,b/**}", "/a/{,b/}c", "/a/{**,x}/b", "/{a,b}/{c,d}*",
		"/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}", "/a/{b,[xy]}", "/a/**/{b,c}",
	}
	differentialPaths = []string{
		"/", "/a", "/b", "/aa", "/ab", "/a/b", "/a/c", "/a/b/c", "/a/x/b", "/a/x.swp", "/x.swp",
		"/.swp", "/x/.a.swp", "/a/b/x1y", "/a/xy", "/a/*", "/a/[b]", "/b/c", "/b/q/c", "/a/y/z",
		"/a/x", "/etc/passwd.lock", "/etc/shadow+", "/etc/group+", "/a/b.txt", "/a/q/b.txt",
		"/a/b/q/c/e.d", "/a/b/c/e.d", "/q/.#x", "/a/abc", "/a/b/b",
		"/a/ce", "/b/x/y", "/a/b/c/b", "/a/x/b", "/b/d9", "/acegikmoq", "/bdfhjlnpr",
	}
)

// TestMatchDifferential checks the compiled patterns against doublestar.
func TestMatchDifferential(t *testing.T) {
	for _, p := range differentialPatterns {
		if msg := patternProblem(p); msg != "" {
			t.Fatalf("test pattern %q: %s", p, msg)
		}
		set := newPatternSet([]string{p})
		for _, path := range differentialPaths {
			want, err := doublestar.Match(p, path)
			if err != nil {
				t.Fatalf("doublestar.Match(%q, %q): %v", p, path, err)
			}
			if got := set.last(path) == 0; got != want {
				t.Errorf("pattern %q matches %q: got %v, want %v (as doublestar.Match)", p, path, got, want)
			}
		}
	}
}

func FuzzPatternMatch(f *testing.F) {
	for i, p := range differentialPatterns {
		f.Add(p, differentialPaths[i%len(differentialPaths)])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		// doublestar compares runes, so it takes any two invalid UTF-8
		// bytes for equal; the fast paths compare bytes. TOML strings, and
		// so patterns, are valid UTF-8.
		if patternProblem(pattern) != "" || !merkle.ValidPath(path) ||
			!utf8.ValidString(pattern) || !utf8.ValidString(path) {
			return
		}
		want, err := doublestar.Match(pattern, path)
		if err != nil {
			return
		}
		if got := newPatternSet([]string{pattern}).last(path) == 0; got != want {
			t.Errorf("pattern %q matches %q: got %v, want %v (as doublestar.Match)", pattern, path, got, want)
		}
	})
}

// matchPaths are typical paths for the default configuration: most match
// nothing at all.
var matchPaths = []struct{ name, path string }{
	{"nothing", "/usr/bin/ls"},
	{"nothing deep", "/usr/lib/x86_64-linux-gnu/security/pam_unix.so"},
	{"nothing in etc", "/etc/ssh/sshd_config"},
	{"rule", "/etc/resolv.conf"},
	{"excluded", "/etc/mtab"},
}

func TestMatchAllocs(t *testing.T) {
	m, err := Default().Matcher()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range matchPaths {
		if n := testing.AllocsPerRun(100, func() { m.Match(p.path) }); n != 0 {
			t.Errorf("Match(%q) allocates %v times per call, want 0", p.path, n)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	m, err := Default().Matcher()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range matchPaths {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Match(p.path)
			}
		})
	}
}

// TestFilterFilesOnly: exclude_files patterns exclude what is not a
// directory; exclude patterns exclude both.
func TestFilterFilesOnly(t *testing.T) {
	c := &Config{Roots: []string{"/etc"}, Exclude: []string{"/etc/mtab"}, ExcludeFiles: []string{"/etc/**/.#*", "/etc/x~"}}
	m, err := c.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []struct {
		path     string
		dir      bool
		excluded bool
	}{
		{"/etc/.#hosts", false, true},
		{"/etc/.#stash", true, false},
		{"/etc/a/b/.#c", false, true},
		{"/etc/a/b/.#c", true, false},
		{"/etc/x~", false, true},
		{"/etc/x~", true, false},
		{"/etc/mtab", false, true},
		{"/etc/mtab", true, true},
	} {
		if _, ex := m.Filter(row.path, row.dir); ex != row.excluded {
			t.Errorf("Filter(%q, dir %v) excluded = %v, want %v", row.path, row.dir, ex, row.excluded)
		}
	}
	if _, ex := m.Match("/etc/.#hosts"); !ex {
		t.Errorf("Match(/etc/.#hosts) excluded = false, want true (Match judges a file)")
	}
}
