package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

// messages returns the messages of the problems in err, in order.
func messages(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.Source != "default" {
		t.Errorf("Default().Source = %q, want %q", c.Source, "default")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
	for _, root := range []string{"/etc", "/boot", "/usr/bin", "/usr/sbin", "/usr/local",
		"/usr/games", "/usr/lib/systemd", "/usr/lib/modules", "/root/.ssh",
		"/var/spool/cron", "/nix/var/nix/profiles"} {
		if !slices.Contains(c.Roots, root) {
			t.Errorf("Default().Roots = %q, want it to contain %q", c.Roots, root)
		}
	}
	for _, root := range c.Roots {
		for _, not := range []string{"/var", "/home", "/nix/store", "/tmp"} {
			if merkle.Within(root, not) && root != "/var/spool/cron" && root != "/var/spool/at" {
				t.Errorf("Default().Roots contains %q, which lies in %q", root, not)
			}
		}
	}
	if c.Database != DefaultDatabase || c.Keep != DefaultKeep || c.MaxHashSize != 0 {
		t.Errorf("Default() database, keep, max_hash_size = %q, %d, %d, want %q, %d, 0",
			c.Database, c.Keep, c.MaxHashSize, DefaultDatabase, DefaultKeep)
	}
	m, err := c.Matcher()
	if err != nil {
		t.Fatalf("Default().Matcher() = %v", err)
	}
	for _, row := range []struct {
		path     string
		dir      bool
		excluded bool
	}{
		{"/etc/mtab", false, true},
		{"/etc/adjtime", false, true},
		{"/etc/shadow.lock", false, true},
		{"/etc/ssh/.sshd_config.swp", false, true},
		{"/etc/.#hosts", false, true},
		{"/etc/shadow", false, false},
		{"/etc/ld.so.preload", false, false},
		{"/usr/bin/.evil.swp", false, false}, // no global swap-file exclude to hide in
		{"/usr/bin/x.swp", false, false},
		{"/root/.ssh/authorized_keys", false, false},
		// A directory shaped like a swap or lock file hides no tree.
		{"/etc/.#stash", true, false},
		{"/etc/ssh/.x.swp", true, false},
	} {
		if _, ex := m.Filter(row.path, row.dir); ex != row.excluded {
			t.Errorf("default Filter(%q, dir %v) excluded = %v, want %v", row.path, row.dir, ex, row.excluded)
		}
	}
	// A static resolv.conf is a file like any other: a redirected name
	// server is reported.
	if attrs, _ := m.Match("/etc/resolv.conf"); attrs != merkle.AttrAll {
		t.Errorf("default Match(/etc/resolv.conf) attrs = %v, want %v", attrs, merkle.AttrAll)
	}
	if c.RereadWithin != DefaultRereadWithin {
		t.Errorf("Default().RereadWithin = %d, want %d", c.RereadWithin, DefaultRereadWithin)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Roots[0] = "/changed"
	text := DefaultText()
	text[0] = '!'
	if b := Default(); b.Roots[0] == "/changed" {
		t.Errorf("Default().Roots[0] = %q after changing an earlier result, want the original", b.Roots[0])
	}
	if DefaultText()[0] == '!' {
		t.Errorf("DefaultText() changed after writing to an earlier result")
	}
	if !bytes.Contains(DefaultText(), []byte("roots = [")) {
		t.Errorf("DefaultText() does not contain %q", "roots = [")
	}
}

func TestParse(t *testing.T) {
	text := `
database = "/srv/vigil/db"
keep = 3
roots = ["/etc", "/usr/bin", "/srv"]
exclude = ["/srv/vigil/**", "/etc/mtab"]
exclude_files = ["/etc/**/*~"]
cross_filesystems = true
max_hash_size = "2KiB"
[scan]
hash_workers = 4
dir_workers = 256
reread_within = 7
[[rule]]
name = "logs"
paths = ["/srv/log/**"]
ignore = ["content", "size"]
[[rule]]
paths = ["/etc/passwd"]
attributes = ["mode", "uid"]
[[rule]]
paths = ["/etc/x"]
ignore = ["all"]
`
	got, err := Parse("t.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Database: "/srv/vigil/db", Keep: 3,
		Roots:            []string{"/etc", "/usr/bin", "/srv"},
		Exclude:          []string{"/srv/vigil/**", "/etc/mtab"},
		ExcludeFiles:     []string{"/etc/**/*~"},
		CrossFilesystems: true, MaxHashSize: 2048, HashWorkers: 4, DirWorkers: 256, RereadWithin: 7,
		Btrfs: Btrfs{Snapshots: true, SnapshotDir: DefaultSnapshotDir},
		Rules: []Rule{
			{Name: "logs", Paths: []string{"/srv/log/**"}, Attrs: merkle.AttrAll &^ (merkle.AttrContent | merkle.AttrSize)},
			{Paths: []string{"/etc/passwd"}, Attrs: merkle.AttrType | merkle.AttrMode | merkle.AttrUID},
			{Paths: []string{"/etc/x"}, Attrs: merkle.AttrType},
		},
		Source: "t.toml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

func TestParseDefaults(t *testing.T) {
	got, err := Parse("t.toml", []byte(`roots = ["/etc"]`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{Database: DefaultDatabase, Keep: DefaultKeep, RereadWithin: DefaultRereadWithin, Roots: []string{"/etc"}, Source: "t.toml",
		Btrfs: Btrfs{Snapshots: true, SnapshotDir: DefaultSnapshotDir}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

// TestParseAccepts lists configurations that look odd but are fine.
func TestParseAccepts(t *testing.T) {
	for _, row := range []struct{ name, text string }{
		{"database excluded by glob", `roots = ["/var"]` + "\n" + `exclude = ["/var/lib/vigil/**"]`},
		{"database excluded via its directory", `roots = ["/var"]` + "\n" + `exclude = ["/var/lib"]`},
		{"database excluded by name glob", `roots = ["/var"]` + "\n" + `exclude = ["/**/*.db"]`},
		{"root slash", `roots = ["/"]` + "\n" + `database = "/x.db"` + "\n" + `exclude = ["/x.db"]`},
		{"integer size", `roots = ["/etc"]` + "\nmax_hash_size = 1048576"},
		{"crlf", "roots = [\r\n  \"/etc\",\r\n]\r\nkeep = 1\r\n"},
		{"inline rule", `roots = ["/etc"]` + "\n" + `rule = [{paths = ["/etc/x"], attributes = []}]`},
		{"dotted keys", `roots = ["/etc"]` + "\nscan.hash_workers = 2"},
		{"root files and symlinks", `roots = ["/etc/passwd", "/bin"]`},
		{"roots sharing a prefix", `roots = ["/usr/lib", "/usr/lib64", "/usr/lib-x"]`},
	} {
		t.Run(row.name, func(t *testing.T) {
			if _, err := Parse("t.toml", []byte(row.text)); err != nil {
				t.Errorf("Parse(%q) = %v, want nil", row.text, err)
			}
		})
	}
}

func TestParseProblems(t *testing.T) {
	for _, row := range []struct {
		name string
		text string
		want []string
	}{{
		name: "four problems",
		text: `roots = ["/etc", "etc/", "/etc"]
keep = 0
exclude = ["*.swp"]`,
		want: []string{
			`t.toml:1: roots[1]: "etc/" is not an absolute clean path`,
			`t.toml:1: roots[2]: "/etc" is listed twice (also as roots[0])`,
			`t.toml:2: keep: must be at least 1, got 0`,
			`t.toml:3: exclude[0]: pattern "*.swp" must start with "/": patterns match absolute paths`,
		},
	}, {
		name: "no roots",
		text: "# nothing\n",
		want: []string{`t.toml: roots: no roots; list at least one directory to watch`},
	}, {
		name: "empty roots",
		text: "keep = 2\nroots = []\n",
		want: []string{`t.toml:2: roots: no roots; list at least one directory to watch`},
	}, {
		name: "nested roots",
		text: `roots = [
    "/usr/lib/systemd",
    "/usr",
    "/usr/./bin",
    "/usr/lib",
]`,
		want: []string{
			`t.toml:2: roots[0]: "/usr/lib/systemd" lies inside root "/usr" (roots[1]); list only one of them`,
			`t.toml:4: roots[2]: "/usr/./bin" is not an absolute clean path`,
			`t.toml:5: roots[3]: "/usr/lib" lies inside root "/usr" (roots[1]); list only one of them`,
		},
	}, {
		name: "unknown keys",
		text: `databse = "/x"
roots = ["/etc"]
[scna]
hash_workers = 1
[scan]
hash_worker = 2
[[rule]]
paths = ["/etc/x"]
ignores = ["content"]
ignore = ["size"]`,
		want: []string{
			`t.toml:1: databse: unknown key`,
			`t.toml:3: scna: unknown key`,
			`t.toml:6: scan.hash_worker: unknown key`,
			`t.toml:9: rule[0].ignores: unknown key`,
		},
	}, {
		name: "wrong types",
		text: `database = 5
keep = "5"
roots = "/etc"
exclude = ["/tmp", 1]
cross_filesystems = "yes"
max_hash_size = 1.5
scan = 3
rule = 4`,
		want: []string{
			`t.toml:1: database: has type integer, want string`,
			`t.toml:2: keep: has type string, want integer`,
			`t.toml:3: roots: has type string, want array of strings`,
			`t.toml:4: exclude[1]: has type integer, want string`,
			`t.toml:5: cross_filesystems: has type string, want boolean`,
			`t.toml:6: max_hash_size: has type float, want integer or string`,
			`t.toml:7: scan: has type integer, want table`,
			`t.toml:8: rule: has type integer, want array of tables`,
		},
	}, {
		name: "rules",
		text: `roots = ["/etc"]
[[rule]]
name = "both"
paths = ["/etc/a"]
ignore = ["content"]
attributes = ["mode"]
[[rule]]
name = "neither"
paths = ["/etc/b"]
[[rule]]
name = "no paths"
ignore = ["mtime"]
[[rule]]
name = 7
paths = []
attributes = [
    "mode",
    "contents",
    3,
]
[[rule]]
paths = ["/etc/c", "etc/d"]
ignore = ["type", "ctime"]`,
		want: []string{
			`t.toml:2: rule[0]: has both ignore and attributes; use one of them`,
			`t.toml:7: rule[1]: needs ignore (attributes not monitored) or attributes (the only ones monitored)`,
			`t.toml:10: rule[2].paths: a rule needs at least one path`,
			`t.toml:14: rule[3].name: has type integer, want string`,
			`t.toml:15: rule[3].paths: a rule needs at least one path`,
			`t.toml:18: rule[3].attributes[1]: unknown attribute "contents" (want one of content, type, mode, uid, gid, size, mtime, ctime, inode, nlink, xattrs, target, flags, all)`,
			`t.toml:19: rule[3].attributes[2]: has type integer, want string`,
			`t.toml:22: rule[4].paths[1]: pattern "etc/d" must start with "/": patterns match absolute paths`,
			`t.toml:23: rule[4].ignore[0]: "type" is always monitored and cannot be ignored`,
		},
	}, {
		name: "rule not a table",
		text: `roots = ["/etc"]` + "\n" + `rule = [1, {paths = ["/x"]}]`,
		want: []string{
			`t.toml:2: rule[0]: has type integer, want table`,
			`t.toml:2: rule[1]: needs ignore (attributes not monitored) or attributes (the only ones monitored)`,
		},
	}, {
		name: "sizes and workers",
		text: `roots = ["/etc"]
max_hash_size = "12XB"
[scan]
hash_workers = -1
dir_workers = 257
reread_within = -3`,
		want: []string{
			`t.toml:2: max_hash_size: size "12XB" has unknown unit "XB" (want B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)`,
			`t.toml:4: scan.hash_workers: must be 0 (the scanner's default) or 1 to 256, got -1`,
			`t.toml:5: scan.dir_workers: must be 0 (the scanner's default) or 1 to 256, got 257`,
			`t.toml:6: scan.reread_within: must be 0 (no sample) or 1 to 1048576 checks, got -3`,
		},
	}, {
		name: "negative sizes",
		text: "roots = [\"/etc\"]\nmax_hash_size = -1",
		want: []string{`t.toml:2: max_hash_size: must not be negative, got -1`},
	}, {
		name: "negative size string",
		text: "roots = [\"/etc\"]\nmax_hash_size = \"-5MiB\"",
		want: []string{`t.toml:2: max_hash_size: size "-5MiB" is negative`},
	}, {
		name: "database relative",
		text: "roots = [\"/etc\"]\ndatabase = \"vigil.db\"",
		want: []string{`t.toml:2: database: "vigil.db" is not an absolute clean path`},
	}, {
		name: "database empty",
		text: "roots = [\"/etc\"]\ndatabase = \"\"",
		want: []string{`t.toml:2: database: must not be empty`},
	}, {
		name: "database inside a root",
		text: "roots = [\"/etc\", \"/var/lib\"]\ndatabase = \"/var/lib/vigil/vigil.db\"\nexclude = [\"/var/lib/vigil/*.bak\"]",
		want: []string{`t.toml:2: database: "/var/lib/vigil/vigil.db" lies inside root "/var/lib"; move it or exclude it`},
	}, {
		name: "default database inside a root",
		text: `roots = ["/var"]`,
		want: []string{`t.toml: database: "/var/lib/vigil/vigil.db" lies inside root "/var"; move it or exclude it`},
	}, {
		name: "bad globs",
		text: `roots = ["/etc"]
exclude = [
    "/etc/[",
    "",
    "/etc/",
    "/etc//x",
    "/etc/../x",
    "/etc/{a,b",
]`,
		want: []string{
			`t.toml:3: exclude[0]: pattern "/etc/[" is not a valid glob`,
			`t.toml:4: exclude[1]: empty pattern`,
			`t.toml:5: exclude[2]: pattern "/etc/" can never match: paths have no trailing "/", "//", "." or ".." elements`,
			`t.toml:6: exclude[3]: pattern "/etc//x" can never match: paths have no trailing "/", "//", "." or ".." elements`,
			`t.toml:7: exclude[4]: pattern "/etc/../x" can never match: paths have no trailing "/", "//", "." or ".." elements`,
			`t.toml:8: exclude[5]: pattern "/etc/{a,b" is not a valid glob`,
		},
	}, {
		name: "inline table value",
		text: "roots = [\"/etc\"]\nscan = { hash_workers = 300, dir_workers = 2, x = 1 }",
		want: []string{
			`t.toml:2: scan.hash_workers: must be 0 (the scanner's default) or 1 to 256, got 300`,
			`t.toml:2: scan.x: unknown key`,
		},
	}, {
		name: "multi-line strings do not confuse lines",
		text: `roots = ["/etc"]
[[rule]]
name = """
keep = 0
[scan]"""
paths = ['/etc/a']
ignore = ['''
''', "mode"]`,
		want: []string{
			`t.toml:7: rule[0].ignore[0]: unknown attribute "" (want one of content, type, mode, uid, gid, size, mtime, ctime, inode, nlink, xattrs, target, flags, all)`,
		},
	}, {
		name: "syntax error",
		text: "roots = [\"/etc\"]\nkeep = \n",
		want: []string{`t.toml:2: expected value but found '\n' instead`},
	}, {
		name: "duplicate key",
		text: "roots = [\"/etc\"]\nkeep = 1\nkeep = 2\n",
		want: []string{`t.toml:3: Key 'keep' has already been defined.`},
	}} {
		t.Run(row.name, func(t *testing.T) {
			c, err := Parse("t.toml", []byte(row.text))
			if c != nil {
				t.Errorf("Parse returned a config with problems: %+v", c)
			}
			if diff := cmp.Diff(row.want, messages(err)); diff != "" {
				t.Errorf("Parse problems mismatch (-want +got):\n%s", diff)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
			}
		})
	}
}

func TestProblemFields(t *testing.T) {
	_, err := Parse("a.toml", []byte("roots = [\"/etc\"]\n\nkeep = -3\n"))
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("errors.As(%v, *Problem) = false, want true", err)
	}
	want := &Problem{File: "a.toml", Line: 3, Key: "keep", Msg: "must be at least 1, got -3"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Problem mismatch (-want +got):\n%s", diff)
	}
}

func TestProblemError(t *testing.T) {
	for _, row := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 2, Key: "k", Msg: "m"}, "f:2: k: m"},
		{Problem{File: "f", Key: "k", Msg: "m"}, "f: k: m"},
		{Problem{Line: 2, Key: "k", Msg: "m"}, "line 2: k: m"},
		{Problem{Key: "k", Msg: "m"}, "k: m"},
		{Problem{File: "f", Line: 1, Msg: "m"}, "f:1: m"},
	} {
		if got := row.p.Error(); got != row.want {
			t.Errorf("%+v.Error() = %q, want %q", row.p, got, row.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := &Config{
		Database: "db", Keep: 0, MaxHashSize: -1, HashWorkers: 1000,
		Roots:   []string{"/a", "/a/b"},
		Exclude: []string{"x"},
		Rules:   []Rule{{Attrs: merkle.AttrMode}, {Paths: []string{"/a/*"}, Attrs: 1 << 20}},
	}
	want := []string{
		`roots[1]: "/a/b" lies inside root "/a" (roots[0]); list only one of them`,
		`exclude[0]: pattern "x" must start with "/": patterns match absolute paths`,
		`database: "db" is not an absolute clean path`,
		`keep: must be at least 1, got 0`,
		`max_hash_size: must not be negative, got -1`,
		`scan.hash_workers: must be 0 (the scanner's default) or 1 to 256, got 1000`,
		`rule[0].paths: a rule needs at least one path`,
		`rule[1]: unknown attribute bits 0x100000`,
	}
	if diff := cmp.Diff(want, messages(c.Validate())); diff != "" {
		t.Errorf("Validate problems mismatch (-want +got):\n%s", diff)
	}
	c.Source = "mine"
	if got := messages(c.Validate())[0]; !strings.HasPrefix(got, "mine: roots[1]: ") {
		t.Errorf("Validate with Source %q: first problem %q, want prefix %q", c.Source, got, "mine: roots[1]: ")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte(`roots = ["/etc"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(%q) = %v", good, err)
	}
	if c.Source != good {
		t.Errorf("Load(%q).Source = %q, want %q", good, c.Source, good)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("roots = [\"/etc\"]\nkeep = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if want := []string{bad + ":2: keep: must be at least 1, got 0"}; !cmp.Equal(messages(err), want) {
		t.Errorf("Load(%q) = %q, want %q", bad, messages(err), want)
	}

	missing := filepath.Join(dir, "missing.toml")
	_, err = Load(missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(%q) = %v, want an error naming the path", missing, err)
	}
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("Load(%q) = %v, want fs.ErrNotExist and not ErrInvalid", missing, err)
	}
}

// TestReadmeExample keeps the example in README-snippet.md valid.
func TestReadmeExample(t *testing.T) {
	text, err := os.ReadFile("README-snippet.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(text), "### Example\n\n```toml\n")
	example, _, ok2 := strings.Cut(example, "```")
	if !ok || !ok2 {
		t.Fatalf("README-snippet.md has no toml block under %q", "### Example")
	}
	c, err := Parse("README example", []byte(example))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	m, err := c.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	if attrs, _ := m.Match("/srv/app/log/MANIFEST"); attrs != merkle.AttrAll {
		t.Errorf("README example: Match(/srv/app/log/MANIFEST) = %v, want all", attrs)
	}
	if attrs, _ := m.Match("/srv/app/log/x.log"); attrs.Has(merkle.AttrContent) {
		t.Errorf("README example: Match(/srv/app/log/x.log) = %v, want no content", attrs)
	}
}

func TestParseTrustPhase(t *testing.T) {
	c, err := Parse("t.toml", []byte("roots = [\"/etc\"]\n[trust]\npubkey = \"/etc/vigil/vigil.pub\"\ncheckpoint = \"/var/lib/vigil-trust/cp\"\n[phase]\nhardened_markers = [\"/run/hardened\"]\nsetup_max_age = \"14d\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Trust.Pubkey != "/etc/vigil/vigil.pub" || c.Trust.Checkpoint != "/var/lib/vigil-trust/cp" ||
		len(c.Phase.Markers()) != 1 || c.Phase.Markers()[0] != "/run/hardened" || c.Phase.SetupMaxAge != 14*24*time.Hour {
		t.Errorf("Parse = trust %+v phase %+v", c.Trust, c.Phase)
	}
	if d := Default(); len(d.Phase.Markers()) != 1 || d.Phase.Markers()[0] != DefaultHardenedMarker {
		t.Errorf("default markers = %v, want %s", d.Phase.Markers(), DefaultHardenedMarker)
	}
	_, err = Parse("t.toml", []byte("roots = [\"/etc\"]\n[trust]\npubkey = \"rel.pub\"\nbogus = 1\n[phase]\nsetup_max_age = \"soon\"\n"))
	for _, want := range []string{"t.toml:3: trust.pubkey", "t.toml:4: trust.bogus", "t.toml:6: phase.setup_max_age"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse of bad [trust]/[phase] = %v, want a problem %q", err, want)
		}
	}
}
