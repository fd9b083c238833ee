//go:build linux

package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
)

// touched reduces a diff to the paths it says something about: in the
// newer snapshot, those created, changed or moved to; in the older, those
// deleted or moved from. An entry that moved only because a directory
// above it did is left out, as btrfs send leaves it out.
type touched struct{ after, before []string }

func ourTouched(t *testing.T, changes []merkle.Change, before, after string) touched {
	t.Helper()
	ino := func(top, p string) uint64 {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(top, p), &st); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return st.Ino
	}
	// A name is a link: its directory's inode, its name, its inode. send
	// speaks of the links that went or came (a rename is both), not of
	// paths: an entry carried along by a directory renamed above it kept
	// its link.
	type link struct {
		dir, ino uint64
		name     string
	}
	gone, came := map[link]string{}, map[link]string{}
	var out touched
	for _, c := range changes {
		switch c.Action {
		case merkle.Updated, merkle.AttributesModified:
			out.after = append(out.after, c.Path)
		case merkle.Created:
			came[link{ino(after, merkle.Parent(c.Path)), c.New.Inode, filepath.Base(c.Path)}] = c.Path
		case merkle.Deleted:
			gone[link{ino(before, merkle.Parent(c.Path)), c.Old.Inode, filepath.Base(c.Path)}] = c.Path
		case merkle.Moved:
			gone[link{ino(before, merkle.Parent(c.Old.Path)), c.Old.Inode, filepath.Base(c.Old.Path)}] = c.Old.Path
			came[link{ino(after, merkle.Parent(c.Path)), c.New.Inode, filepath.Base(c.Path)}] = c.Path
			if c.Changed != 0 {
				out.after = append(out.after, c.Path)
			}
		}
	}
	for l, p := range gone {
		if q, ok := came[l]; ok {
			// The same link: carried along by a directory renamed above
			// it. Reported as deleted and created, it changed too.
			delete(came, l)
			if c := changeAt(changes, q); c != nil && c.Action == merkle.Created {
				out.after = append(out.after, q)
			}
			continue
		}
		out.before = append(out.before, p)
	}
	for _, q := range came {
		out.after = append(out.after, q)
	}
	return out.sorted()
}

// changeAt returns the change reported for path p (its new path).
func changeAt(changes []merkle.Change, p string) *merkle.Change {
	for i := range changes {
		if changes[i].Path == p {
			return &changes[i]
		}
	}
	return nil
}

func (t touched) sorted() touched {
	for _, s := range []*[]string{&t.after, &t.before} {
		slices.Sort(*s)
		if *s = slices.Compact(*s); len(*s) == 0 {
			*s = nil
		}
	}
	return t
}

var tempName = regexp.MustCompile(`(^|/)o\d+-\d+-\d+(/|$)`)

// sendTouched reduces `btrfs receive --dump` of `btrfs send --no-data -p
// A B` the same way: its temporary names resolved through the renames
// after (for the newer snapshot's names) or before (for the older's).
func sendTouched(t *testing.T, dump string) touched {
	t.Helper()
	type op struct{ cmd, path, dest string }
	var ops []op
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "snapshot" {
			continue
		}
		o := op{cmd: f[0], path: clean(f[1])}
		for _, kv := range f[2:] {
			if d, ok := strings.CutPrefix(kv, "dest="); ok {
				o.dest = clean(d)
			}
		}
		ops = append(ops, o)
	}
	under := func(p, dir string) (string, bool) {
		if p == dir {
			return "", true
		}
		rest, ok := strings.CutPrefix(p, dir+"/")
		return "/" + rest, ok
	}
	final := func(p string, i int) string {
		for _, o := range ops[i+1:] {
			if o.cmd == "rename" {
				if rest, ok := under(p, o.path); ok {
					p = strings.TrimSuffix(o.dest+rest, "/")
				}
			}
		}
		return p
	}
	origin := func(p string, i int) string {
		for j := i - 1; j >= 0; j-- {
			if o := ops[j]; o.cmd == "rename" {
				if rest, ok := under(p, o.dest); ok {
					p = strings.TrimSuffix(o.path+rest, "/")
				}
			}
		}
		return p
	}
	var out touched
	for i, o := range ops {
		switch o.cmd {
		case "unlink", "rmdir":
			out.before = append(out.before, origin(o.path, i))
		case "rename":
			out.before = append(out.before, origin(o.path, i))
			out.after = append(out.after, final(o.dest, i))
		case "link":
			out.after = append(out.after, final(o.path, i))
		default: // mkfile, mkdir, symlink, chmod, chown, utimes, set_xattr, update_extent, ...
			out.after = append(out.after, final(o.path, i))
		}
	}
	keep := func(s []string) []string {
		return slices.DeleteFunc(s, func(p string) bool { return tempName.MatchString(p) })
	}
	out.after, out.before = keep(out.after), keep(out.before)
	if len(out.before) == 0 {
		out.before = nil
	}
	return out.sorted()
}

// inodes maps paths of the snapshot at top to "inode N" strings, sorted,
// each once.
func inodes(t *testing.T, top string, paths []string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(top, p), &st); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, fmt.Sprintf("inode %d", st.Ino))
	}
	slices.Sort(out)
	if out = slices.Compact(out); len(out) == 0 {
		return nil
	}
	return out
}

// clean turns ./B/x/y into /x/y and ./B/ into /.
func clean(p string) string {
	p = strings.TrimPrefix(p, "./")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[i:]
	} else {
		p = "/"
	}
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// TestDiffSnapshotsEqualsSend: over rounds of random mutations, what
// DiffSnapshots finds between two snapshots is what btrfs send finds.
func TestDiffSnapshotsEqualsSend(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(mnt, "snaps")
	if err := os.Mkdir(snaps, 0o700); err != nil {
		t.Fatal(err)
	}
	m := &mutator{t: t, rng: rand.New(rand.NewPCG(testSeed(7), 7)), vol: vol, root: vol, noSubvol: true}
	for range 4 {
		m.create()
	}
	prev := filepath.Join(snaps, "0")
	if err := btrfs.Snapshot(vol, prev, true); err != nil {
		t.Fatal(err)
	}
	for round := range 30 {
		m.done = nil
		for range 1 + m.rng.IntN(6) {
			m.one()
		}
		next := filepath.Join(snaps, fmt.Sprint(round+1))
		if err := btrfs.Snapshot(vol, next, true); err != nil {
			t.Fatal(err)
		}
		var changes []merkle.Change
		res, err := engine.DiffSnapshots(context.Background(), prev, next, engine.Options{Report: engine.Funcs{OnChange: func(c merkle.Change) error {
			changes = append(changes, c)
			return nil
		}}})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		dump := fimtest.Command(t, "sh", "-c", fmt.Sprintf("btrfs send -q --no-data -p %q %q | btrfs receive --dump", prev, next))
		want, got := sendTouched(t, dump), ourTouched(t, changes, prev, next)
		// send names a changed inode by one of its hard links; vigil
		// reports every name: compare the inodes of the newer side.
		want.after, got.after = inodes(t, next, want.after), inodes(t, next, got.after)
		if d := cmp.Diff(want, got, cmp.AllowUnexported(touched{})); d != "" {
			t.Fatalf("round %d (%s): DiffSnapshots differs from btrfs send (-send +vigil):\n%s\ndump:\n%s", round, strings.Join(m.done, "; "), d, dump)
		}
		t.Logf("round %d: %d changes, %d entries read", round, len(changes), res.Entries)
		prev = next
	}
}

// TestDiffSnapshotsLeavesOwnDirsOut: a diff of a trusted snapshot against
// its live subvolume, where vigil has since taken more snapshots (and
// quarantined a file), reports the real change only, not the entries of
// vigil's own snapshot and quarantine directories.
func TestDiffSnapshotsLeavesOwnDirsOut(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 256<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n"), "usr/bin/su": fimtest.File("ELF su")}.Make(t, vol)
	snaps := filepath.Join(vol, config.DefaultSnapshotDir)
	must(t, os.Mkdir(snaps, 0o700))
	a := filepath.Join(snaps, "a")
	if err := btrfs.Snapshot(vol, a, true); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(vol, "etc", "cron-evil"), []byte("* * * * * root sh"), 0o644))
	if err := btrfs.Snapshot(vol, filepath.Join(snaps, "b"), true); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(vol, btrfs.DefaultQuarantine)
	must(t, os.Mkdir(q, 0o700))
	must(t, os.WriteFile(filepath.Join(q, "su.1"), []byte("old"), 0o000))
	var got []string
	_, err := engine.DiffSnapshots(t.Context(), a, vol, engine.Options{Report: engine.Funcs{OnChange: func(c merkle.Change) error {
		got = append(got, c.Action.String()+" "+c.Path)
		return nil
	}}})
	must(t, err)
	for _, g := range got {
		if strings.Contains(g, config.DefaultSnapshotDir) || strings.Contains(g, btrfs.DefaultQuarantine) {
			t.Errorf("diff reported vigil's own directory: %s (all: %q)", g, got)
		}
	}
	if !slices.Contains(got, "created /etc/cron-evil") {
		t.Errorf("diff = %q, want the created /etc/cron-evil", got)
	}
}
