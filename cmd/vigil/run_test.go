package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// output is what one run of vigil produced.
type output struct {
	code           int
	stdout, stderr string
}

// vigil runs the command line args as main would.
func vigil(t *testing.T, args ...string) output {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return output{code, stdout.String(), stderr.String()}
}

// mustRun runs args and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) output {
	t.Helper()
	out := vigil(t, args...)
	if out.code != want {
		t.Fatalf("vigil %q exited %d, want %d\nstdout:\n%s\nstderr:\n%s", args, out.code, want, out.stdout, out.stderr)
	}
	return out
}

// setup is a tree to watch, a database outside it and a configuration
// file naming both.
type setup struct {
	root, db, config string
}

// newSetup makes tree and writes a configuration watching it. The
// configuration ignores the root directory's own times, size and link
// count, which move whenever a name is added or removed, so that the exit
// codes reflect the entries alone.
func newSetup(t *testing.T, tree fimtest.Tree) setup {
	t.Helper()
	root := t.TempDir()
	tree.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	dir := t.TempDir()
	s := setup{root: root, db: filepath.Join(dir, "vigil.db"), config: filepath.Join(dir, "vigil.toml")}
	text := fmt.Sprintf(`database = %q
roots = [%q]

[[rule]]
name = "the root's own bookkeeping"
paths = [%q]
ignore = ["mtime", "ctime", "size", "nlink"]
`, s.db, root, root)
	if err := os.WriteFile(s.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// args prefixes the global flags selecting s's configuration.
func (s setup) args(args ...string) []string {
	return append([]string{"--config", s.config, "--quiet"}, args...)
}

func (s setup) path(rel string) string { return filepath.Join(s.root, rel) }

// event is one NDJSON line of check --json, reduced to what tests assert.
type event struct {
	Action  string
	Path    string // exact bytes: vigil.path_base64 decoded when present
	Changed []string
}

// decodeEvents decodes check --json output into its change events and its
// summary, failing the test unless the summary is the last line.
func decodeEvents(t *testing.T, stdout string) ([]event, alerts.Summary) {
	t.Helper()
	var evs []event
	var sum *alerts.Summary
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if sum != nil {
			t.Fatalf("line %q after the summary, want the summary last", sc.Text())
		}
		if ev.Event.Action == "summary" {
			if ev.Vigil == nil || ev.Vigil.Summary == nil {
				t.Fatalf("summary line %q without vigil.summary", sc.Text())
			}
			sum = ev.Vigil.Summary
			continue
		}
		e := event{Action: ev.Event.Action}
		if ev.File != nil {
			e.Path = ev.File.Path
		}
		if ev.Vigil != nil {
			e.Changed = ev.Vigil.Changed
			if ev.Vigil.PathBase64 != "" {
				b, err := base64.StdEncoding.DecodeString(ev.Vigil.PathBase64)
				if err != nil {
					t.Fatalf("vigil.path_base64 %q: %v", ev.Vigil.PathBase64, err)
				}
				e.Path = string(b)
			}
		}
		evs = append(evs, e)
	}
	if sum == nil {
		t.Fatalf("no summary line in %q", stdout)
	}
	return evs, *sum
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckExitCodes: check exits with the bitmask of what it found, and
// its JSON summary, the last line, carries the same code.
func TestCheckExitCodes(t *testing.T) {
	t.Parallel()
	write := func(rel, s string) func(*testing.T, setup) {
		return func(t *testing.T, st setup) { must(t, os.WriteFile(st.path(rel), []byte(s), 0o644)) }
	}
	remove := func(rel string) func(*testing.T, setup) {
		return func(t *testing.T, st setup) { must(t, os.Remove(st.path(rel))) }
	}
	tests := []struct {
		name    string
		mutate  []func(*testing.T, setup)
		code    int
		actions []string
	}{
		{"unchanged", nil, 0, nil},
		{"added", []func(*testing.T, setup){write("new", "n")}, 1, []string{"created"}},
		{"removed", []func(*testing.T, setup){remove("g")}, 2, []string{"deleted"}},
		{"changed", []func(*testing.T, setup){write("f", "changed")}, 4, []string{"updated"}},
		{"moved", []func(*testing.T, setup){func(t *testing.T, s setup) { must(t, os.Rename(s.path("g"), s.path("h"))) }},
			3, []string{"moved"}},
		{"added and removed", []func(*testing.T, setup){write("new", "n"), remove("g")}, 3, []string{"created", "deleted"}},
		{"added and changed", []func(*testing.T, setup){write("new", "n"), write("f", "changed")}, 5, []string{"created", "updated"}},
		{"all three", []func(*testing.T, setup){write("new", "n"), remove("g"), write("f", "changed")}, 7,
			[]string{"created", "deleted", "updated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSetup(t, fimtest.Tree{"f": fimtest.File("f"), "g": fimtest.File("g")})
			mustRun(t, 0, s.args("init")...)
			for _, m := range tt.mutate {
				m(t, s)
			}
			out := mustRun(t, tt.code, s.args("check", "--json")...)
			evs, sum := decodeEvents(t, out.stdout)
			var actions []string
			for _, e := range evs {
				actions = append(actions, e.Action)
			}
			slices.Sort(actions)
			if !slices.Equal(actions, tt.actions) || sum.ExitCode != tt.code {
				t.Errorf("check --json reported %q with summary exit code %d, want %q and %d\n%s",
					actions, sum.ExitCode, tt.actions, tt.code, out.stdout)
			}
			mustRun(t, tt.code, s.args("check")...)
			mustRun(t, 0, s.args("update")...)
			mustRun(t, 0, s.args("check")...)
		})
	}
}

// TestTamperedBaseline: a baseline record modified outside vigil makes
// check exit with 8 set, and verify and update fail with 8.
func TestTamperedBaseline(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f"), "d/g": fimtest.File("g")})
	mustRun(t, 0, s.args("init")...)
	mustRun(t, 0, s.args("verify")...)
	flipHashBit(t, s.db, s.path("d/g"))

	if out := vigil(t, s.args("check")...); out.code&exitTampered == 0 || out.code >= exitInternal {
		t.Errorf("check of a tampered baseline exited %d, want 8 set\n%s%s", out.code, out.stdout, out.stderr)
	}
	// Reread, d/g no longer matches the hash the baseline now claims.
	out := mustRun(t, exitTampered|exitChanged, s.args("check", "--full", "--json")...)
	if evs, _ := decodeEvents(t, out.stdout); !cmp.Equal(evs, []event{{"updated", s.path("d/g"), []string{"content"}}}) {
		t.Errorf("check --full of the tampered baseline reported %+v, want d/g's content updated", evs)
	}
	mustRun(t, exitTampered, s.args("verify")...)
	mustRun(t, exitTampered, s.args("update")...)
}

// flipHashBit flips one bit of the content hash stored for path in the
// current baseline of the database at db, as an intruder editing the file
// would.
func flipHashBit(t *testing.T, db, path string) {
	t.Helper()
	b, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		cur := tx.Bucket([]byte("meta")).Get([]byte("current"))
		var info struct{ Epoch uint64 }
		if err := json.Unmarshal(tx.Bucket([]byte("baselines")).Get(cur), &info); err != nil {
			return err
		}
		entries := tx.Bucket([]byte("epochs")).Bucket(binary.BigEndian.AppendUint64(nil, info.Epoch)).Bucket([]byte("records"))
		// The newest version of path's record no newer than the current
		// baseline: the path's key, two NULs, the writing baseline's id.
		prefix := append([]byte(strings.ReplaceAll(path, "/", "\x00")), 0, 0)
		var key []byte
		c := entries.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
			if bytes.Compare(k[len(prefix):], cur) <= 0 {
				key = bytes.Clone(k)
			}
		}
		v := bytes.Clone(entries.Get(key))
		// version, flags, type, hash state, 13 varints, then the hash.
		const hasHash = 1 << 1
		if len(v) < 4 || v[1]&hasHash == 0 {
			return fmt.Errorf("record of %s %x holds no hash", path, v)
		}
		off := 4
		for range 13 {
			_, n := binary.Uvarint(v[off:])
			if n <= 0 {
				return fmt.Errorf("record of %s %x: bad varint", path, v)
			}
			off += n
		}
		v[off] ^= 1
		return entries.Put(key, v)
	})
	if err != nil {
		t.Fatalf("tampering with %s: %v", db, err)
	}
}

// TestHelpListsExitCodes: vigil help documents every exit code.
func TestHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	out := mustRun(t, 0, "help")
	_, codes, ok := strings.Cut(out.stdout, "Exit codes:\n")
	if !ok {
		t.Fatalf("help has no \"Exit codes:\" section:\n%s", out.stdout)
	}
	documented := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\d+)\s`).FindAllStringSubmatch(codes, -1) {
		n, _ := strconv.Atoi(m[1])
		documented[n] = true
	}
	for _, c := range []int{exitOK, exitAdded, exitRemoved, exitChanged, exitTampered, exitInternal,
		exitUsage, exitConfig, exitIO, exitVersion, exitDatabase, exitInterrupt} {
		if !documented[c] {
			t.Errorf("help does not list exit code %d:\n%s", c, codes)
		}
	}
}

// TestStatus: status shows the root hash and the counts of the baseline.
func TestStatus(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f"), "d/g": fimtest.File("gg"), "l": fimtest.Symlink("f")})
	mustRun(t, 0, s.args("init")...)
	out := mustRun(t, 0, s.args("check", "--json")...)
	_, sum := decodeEvents(t, out.stdout)

	out = mustRun(t, 0, s.args("status")...)
	for _, want := range []string{
		"root       " + sum.OldRoot + "\n",
		// "/", "/tmp", the test's directory, the root, d; f, d/g; l.
		fmt.Sprintf("entries    %d: 2 files (3 B), 5 dirs, 1 symlinks, 0 other\n", sum.Entries),
		"roots      " + s.root + "\n",
		"problems   0 errors, 0 hash skipped, 0 unstable\n",
	} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("status printed:\n%s\nwant a line %q", out.stdout, want)
		}
	}
	if sum.Entries != 8 {
		t.Errorf("check counted %d entries, want 8", sum.Entries)
	}

	out = mustRun(t, 0, s.args("status", "--json")...)
	var st struct {
		Current struct {
			Root   string `json:"root"`
			Counts struct {
				Entries int64 `json:"entries"`
			} `json:"counts"`
		} `json:"current"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.stdout)
	}
	if st.Current.Root != sum.OldRoot || st.Current.Counts.Entries != sum.Entries {
		t.Errorf("status --json: root %s, %d entries; want %s, %d", st.Current.Root, st.Current.Counts.Entries, sum.OldRoot, sum.Entries)
	}
}

// TestCommandErrors: exit codes of failures.
func TestCommandErrors(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	badConfig := filepath.Join(t.TempDir(), "bad.toml")
	must(t, os.WriteFile(badConfig, []byte("roots = [\"relative\"]\nunknown_key = 1\n"), 0o644))
	missing := filepath.Join(t.TempDir(), "none.db")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"init over a baseline", s.args("init"), exitUsage},
		{"init --force over a baseline", s.args("init", "--force"), exitOK},
		{"check outside the roots", s.args("check", t.TempDir()), exitUsage},
		{"update outside the roots", s.args("update", t.TempDir()), exitUsage},
		{"check without a database", []string{"--db", missing, "check"}, exitDatabase},
		{"status without a database", []string{"--db", missing, "status"}, exitDatabase},
		{"verify without a database", []string{"--db", missing, "verify"}, exitDatabase},
		{"bad configuration", []string{"--config", badConfig, "check"}, exitConfig},
		{"missing configuration", []string{"--config", missing + ".toml", "check"}, exitIO},
		{"unknown command", []string{"frobnicate"}, exitUsage},
		{"no command", nil, exitUsage},
		{"unknown flag", s.args("check", "--frobnicate"), exitUsage},
	}
	for _, tt := range tests {
		if out := vigil(t, tt.args...); out.code != tt.code {
			t.Errorf("%s: vigil %q exited %d, want %d\nstderr:\n%s", tt.name, tt.args, out.code, tt.code, out.stderr)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a check without a database created %s", missing)
	}
}

// TestHostileNames: names holding a newline or bytes that are not UTF-8
// are reported with their exact bytes in JSON (vigil.path_base64 when
// needed), and as one line per change, quoted, for people.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"plain": fimtest.File("p")})
	mustRun(t, 0, s.args("init")...)
	names := []string{"bad\xffname", "new\nline", "tab\tand \" quote"}
	for _, n := range names {
		must(t, os.WriteFile(s.path(n), []byte(n), 0o644))
	}
	var want []event
	for _, n := range names {
		want = append(want, event{Action: "created", Path: s.path(n)})
	}

	out := mustRun(t, exitAdded, s.args("check", "--json")...)
	if evs, _ := decodeEvents(t, out.stdout); !cmp.Equal(evs, want) {
		t.Errorf("check --json reported (-want +got):\n%s", cmp.Diff(want, evs))
	}

	out = mustRun(t, exitAdded, s.args("check")...)
	lines, _, _ := strings.Cut(out.stdout, "\n\n") // the summary follows a blank line
	var got []event
	for line := range strings.Lines(lines) {
		got = append(got, parseLine(t, strings.TrimSuffix(line, "\n")))
	}
	if !cmp.Equal(got, want) {
		t.Errorf("check printed\n%s\nwhich reads as (-want +got):\n%s", out.stdout, cmp.Diff(want, got))
	}

	mustRun(t, 0, s.args("update")...)
	mustRun(t, 0, s.args("check")...)
}

// parseLine reads a human-readable change line: a marker, the attribute
// columns, the type and the path, quoted when it is not printable as is.
func parseLine(t *testing.T, line string) event {
	t.Helper()
	actions := map[string]string{"+": "created", "-": "deleted", "~": "updated", ">": "moved"}
	f := strings.SplitN(line, " ", 3)
	if len(f) < 3 || actions[f[0]] == "" {
		t.Fatalf("line %q: want MARK ATTRS TYPE PATH", line)
	}
	p := strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(f[2], " "), "file"), " ")
	if strings.HasPrefix(p, `"`) {
		var err error
		if p, err = strconv.Unquote(p); err != nil {
			t.Fatalf("line %q: path %v", line, err)
		}
	}
	return event{Action: actions[f[0]], Path: p}
}
