package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/internal/fimtest"
)

// recordVersion finds, in the database at db, the key and value of the
// newest version of path's record visible to the current baseline.
func recordVersion(t *testing.T, tx *bolt.Tx, path string) (*bolt.Bucket, []byte, []byte) {
	t.Helper()
	cur := tx.Bucket([]byte("meta")).Get([]byte("current"))
	var info struct{ Epoch uint64 }
	if err := json.Unmarshal(tx.Bucket([]byte("baselines")).Get(cur), &info); err != nil {
		t.Fatal(err)
	}
	rb := tx.Bucket([]byte("epochs")).Bucket(binary.BigEndian.AppendUint64(nil, info.Epoch)).Bucket([]byte("records"))
	prefix := append([]byte(strings.ReplaceAll(path, "/", "\x00")), 0, 0)
	var key, val []byte
	c := rb.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Next() {
		if bytes.Compare(k[len(prefix):], cur) <= 0 {
			key, val = bytes.Clone(k), bytes.Clone(v)
		}
	}
	if key == nil {
		t.Fatalf("no record of %s", path)
	}
	return rb, key, val
}

// forgeRecord replaces path's record in the database at dst with the one a
// baseline of the current state (in the database at src) holds: what an
// intruder who changed the file and can write the database would do.
func forgeRecord(t *testing.T, dst, src, path string) {
	t.Helper()
	var forged []byte
	sb, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = sb.View(func(tx *bolt.Tx) error { _, _, forged = recordVersion(t, tx, path); return nil })
	sb.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		rb, key, old := recordVersion(t, tx, path)
		if bytes.Equal(old, forged) {
			return fmt.Errorf("the forged record of %s equals the original", path)
		}
		return rb.Put(key, forged)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScopedCheckForgery: a file rewritten together with its stored record
// is caught by every read that uses the record, scoped or whole: the record
// no longer chains to the baseline's root.
func TestScopedCheckForgery(t *testing.T) {
	t.Parallel()
	for name, forged := range map[string][]string{
		"the record":                        {"d/g"},
		"the record and its directory node": {"d/g", "d"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSetup(t, fimtest.Tree{"f": fimtest.File("f"), "d/g": fimtest.File("g"), "d/h": fimtest.File("h")})
			mustRun(t, 0, s.args("init")...)
			if err := os.WriteFile(s.path("d/g"), []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
			other := filepath.Join(t.TempDir(), "other.db")
			mustRun(t, 0, append(s.args("--db", other), "init")...)
			for _, p := range forged {
				forgeRecord(t, s.db, other, s.path(p))
			}
			for _, args := range [][]string{{"check", s.path("d/g")}, {"check", s.path("d/g"), s.path("d/h")}, {"check", s.path("d")}, {"check"}, {"update", s.path("d/g")}, {"verify"}} {
				if out := vigil(t, s.args(args...)...); out.code&exitTampered == 0 || out.code >= exitInternal && out.code != exitTampered {
					t.Errorf("%v after forging %v exited %d, want 8 set\n%s%s", args, forged, out.code, out.stdout, out.stderr)
				}
			}
			// The untouched sibling's scope is checked through the forged
			// directories too.
			if out := vigil(t, s.args("check", s.path("f"))...); len(forged) == 1 && out.code != 0 || len(forged) == 2 && out.code&exitTampered == 0 {
				t.Errorf("check of the untouched f after forging %v exited %d\n%s", forged, out.code, out.stderr)
			}
		})
	}
}

// TestUpdateWritesChanges: an update stores only what changed, and every
// stored baseline stays readable and diffable.
func TestUpdateWritesChanges(t *testing.T) {
	t.Parallel()
	tree := fimtest.Tree{}
	for i := range 200 {
		tree[fmt.Sprintf("d%d/f%d", i%10, i)] = fimtest.File(fmt.Sprint(i))
	}
	s := newSetup(t, tree)
	// A file whose ctime lies within a second of its hash is hashed again
	// (and its record rewritten) by every scan: let the tree's ctimes age
	// past that window, so that only the changes below are rewritten.
	time.Sleep(1100 * time.Millisecond)
	mustRun(t, 0, s.args("init")...)
	for _, f := range []string{"d1/f1", "d2/f2"} {
		if err := os.WriteFile(s.path(f), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, 0, s.args("update")...)
	if err := os.WriteFile(s.path("d3/f3"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, s.args("update", s.path("d3"))...)
	out := mustRun(t, 0, s.args("log", "--json")...)
	var written []int64
	for _, l := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatal(err)
		}
		written = append(written, ll.Changes)
	}
	// Newest first: the scoped update (d3/f3, d3, the root and its
	// ancestors), the update (two files, two directories, the root and its
	// ancestors), the init (everything).
	depth := int64(strings.Count(s.root, "/")) // ancestors of the root, "/" included
	if len(written) != 3 || written[0] > 3+depth || written[1] > 5+depth || written[2] < 211 {
		t.Errorf("records written per baseline, newest first = %v, want at most %d, %d and at least 211", written, 3+depth, 5+depth)
	}
	out = mustRun(t, exitChanged, s.args("diff", "--json", "1")...)
	evs, _ := decodeEvents(t, out.stdout)
	var paths []string
	for _, e := range evs {
		paths = append(paths, e.Path)
	}
	want := []string{s.path("d1/f1"), s.path("d2/f2"), s.path("d3/f3")}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("diff 1 (current) reported %v, want %v", paths, want)
	}
	mustRun(t, exitChanged, s.args("diff", "1", "2")...)
	mustRun(t, 0, s.args("verify")...)
	mustRun(t, 0, s.args("compact")...)
	mustRun(t, 0, s.args("verify")...)
	mustRun(t, 0, s.args("check")...)
}

// TestOldSchemaRefused: a database of vigil 0.1 (schema 1) is refused by
// every command but migrate, which the message names, and left unchanged.
func TestOldSchemaRefused(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	db, err := bolt.Open(s.db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("baselines")); err != nil {
			return err
		}
		return m.Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.db)
	for _, cmd := range []string{"check", "update", "status", "log", "diff", "verify"} {
		out := vigil(t, s.args(cmd)...)
		if out.code != exitVersion || !strings.Contains(out.stderr, "vigil migrate") {
			t.Errorf("%s on a schema 1 database exited %d, want %d and a message naming 'vigil migrate'\n%s", cmd, out.code, exitVersion, out.stderr)
		}
	}
	if after, _ := os.ReadFile(s.db); !bytes.Equal(before, after) {
		t.Errorf("refused commands changed the schema 1 database")
	}
	// The baselines are verified before anything is written: this one has
	// none, which migrate says.
	if out := vigil(t, s.args("migrate")...); out.code != exitDatabase {
		t.Errorf("migrate of a schema 1 database without baselines exited %d, want %d\n%s", out.code, exitDatabase, out.stderr)
	}
}

// TestConfigHidingPlace: an intruder who edits the configuration to look
// away (a rule that ignores a file's content, an exclude for a planted
// file) does not get a clean check: the content is still compared under
// the rule the baseline was taken with, and a configuration other than the
// baseline's is a finding (exit 4, config_changed).
func TestConfigHidingPlace(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"shadow": fimtest.File("root:hash"), "cron.d/job": fimtest.File("ok")})
	mustRun(t, 0, s.args("init")...)
	text, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.path("shadow"), []byte("root:evil"), 0o644)
	os.WriteFile(s.path("cron.d/backdoor"), []byte("* * * * * root sh"), 0o644)
	hide := fmt.Sprintf("exclude = [%q]\n", s.path("cron.d/backdoor")) + string(text) +
		fmt.Sprintf("\n[[rule]]\npaths = [%q]\nignore = [\"content\", \"size\", \"mtime\", \"ctime\"]\n", s.path("shadow"))
	if err := os.WriteFile(s.config, []byte(hide), 0o644); err != nil {
		t.Fatal(err)
	}
	out := vigil(t, s.args("check", "--json")...)
	evs, sum := decodeEvents(t, out.stdout)
	var content bool
	for _, e := range evs {
		content = content || e.Path == s.path("shadow") && strings.Contains(strings.Join(e.Changed, ","), "content")
	}
	if out.code&exitChanged == 0 || !sum.ConfigChanged || !content {
		t.Errorf("check under a configuration that looks away exited %d, config_changed %v, shadow's content reported %v; want 4 set, true, true\n%s",
			out.code, sum.ConfigChanged, content, out.stdout)
	}
}

// TestUpdateBelowNewParent: update DIR where DIR's parent is new too
// records the parents (as they are now) and DIR's subtree, and nothing
// else.
func TestUpdateBelowNewParent(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	mustRun(t, 0, s.args("init")...)
	if err := os.MkdirAll(s.path("new/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.path("new/sub/x"), []byte("x"), 0o644)
	os.WriteFile(s.path("new/other"), []byte("not accepted"), 0o644)
	os.WriteFile(s.path("f"), []byte("changed, not accepted"), 0o644)
	out := mustRun(t, 0, s.args("update", "--json", s.path("new/sub"))...)
	evs, _ := decodeEvents(t, out.stdout)
	var got []string
	for _, e := range evs {
		got = append(got, e.Action+" "+e.Path)
	}
	want := []string{"created " + s.path("new"), "created " + s.path("new/sub"), "created " + s.path("new/sub/x")}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("update of a subtree below a new parent reported %q, want %q", got, want)
	}
	out = mustRun(t, exitAdded|exitChanged, s.args("check", "--json")...)
	evs, _ = decodeEvents(t, out.stdout)
	got = nil
	for _, e := range evs {
		got = append(got, e.Action+" "+e.Path)
	}
	want = []string{"updated " + s.path("f"), "created " + s.path("new/other")}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("check after it reported %q, want %q (what was not accepted)", got, want)
	}
}

// TestDiffNotSnapshots: vigil diff of two paths that are not Btrfs
// snapshots of one subvolume is refused (15), naming them, and reads no
// database.
func TestDiffNotSnapshots(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	out := mustRun(t, exitUsage, "--db", filepath.Join(t.TempDir(), "none.db"), "diff", a, b)
	if !strings.Contains(out.stderr, a) || !strings.Contains(out.stderr, "not two btrfs snapshots") {
		t.Errorf("stderr %q: want the paths and why", out.stderr)
	}
}
