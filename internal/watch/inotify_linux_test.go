package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/fimtest"
)

// wait bounds how long a test waits for an event that must come.
const wait = 3 * time.Second

// run starts an inotify source on roots and returns its events.
func run(t *testing.T, o Options) (*Inotify, <-chan Event) {
	t.Helper()
	in, err := NewInotify(o)
	if err != nil {
		t.Fatalf("NewInotify: %v", err)
	}
	ch := make(chan Event, 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, func(ev Event) { ch <- ev }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	expect(t, ch, "ready", func(ev Event) bool { return ev.Op.Has(Ready) })
	return in, ch
}

// expect reads events until one satisfies ok, and returns those read.
func expect(t *testing.T, ch <-chan Event, what string, ok func(Event) bool) []Event {
	t.Helper()
	var seen []Event
	deadline := time.After(wait)
	for {
		select {
		case ev := <-ch:
			seen = append(seen, ev)
			if ok(ev) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no event %s within %v; got %v", what, wait, seen)
		}
	}
}

// covers reports whether ev asks for path to be verified.
func covers(ev Event, path string) bool {
	return ev.Path == path || ev.Op.Has(Tree) && within(path, ev.Path)
}

func TestNewNestedDirectories(t *testing.T) {
	root := t.TempDir()
	in, ch := run(t, Options{Roots: []string{root}})
	// Created faster than any watch can be added below a: only the
	// listing after the watch finds c.
	c := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(filepath.Dir(c), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "covering "+c, func(ev Event) bool { return covers(ev, c) })
	// Once a path in b is covered, b is watched: a later write in it is
	// an event of its own.
	d := filepath.Join(root, "a", "b", "d")
	if err := os.WriteFile(d, []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "covering "+d, func(ev Event) bool { return covers(ev, d) })
	e := filepath.Join(root, "a", "b", "e")
	if err := os.WriteFile(e, []byte("z"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "for "+e, func(ev Event) bool { return ev.Path == e && ev.Op.Has(Changed) })
	if got := in.Coverage().Watched; got != 3 {
		t.Errorf("Coverage().Watched = %d, want 3 (root, a, a/b)", got)
	}
}

func TestFileOperations(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "f")
	fimtest.Tree{"f": fimtest.File("old"), "sub/g": fimtest.File("g")}.Make(t, root)
	_, ch := run(t, Options{Roots: []string{root}})
	for _, step := range []struct {
		name string
		do   func() error
		path string
	}{
		{"write", func() error { return os.WriteFile(f, []byte("new"), 0o644) }, f},
		{"chmod", func() error { return os.Chmod(f, 0o600) }, f},
		{"chown", func() error { return os.Chown(f, 1, 1) }, f},
		{"rename", func() error { return os.Rename(f, f+".moved") }, f + ".moved"},
		{"delete", func() error { return os.Remove(filepath.Join(root, "sub", "g")) }, filepath.Join(root, "sub", "g")},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		expect(t, ch, step.name+" of "+step.path, func(ev Event) bool { return ev.Path == step.path })
	}
}

func TestExcludedSubtreeUnwatched(t *testing.T) {
	root := t.TempDir()
	fimtest.Tree{"cache/deep/x": fimtest.File("x"), "etc/y": fimtest.File("y")}.Make(t, root)
	cache := filepath.Join(root, "cache")
	in, ch := run(t, Options{Roots: []string{root}, Excluded: func(p string) bool { return p == cache }})
	cov := in.Coverage()
	if cov.Watched != 2 || cov.Excluded != 1 {
		t.Errorf("Coverage() = %+v, want 2 watched (root, etc), 1 excluded", cov)
	}
	if err := os.WriteFile(filepath.Join(cache, "deep", "x"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	y := filepath.Join(root, "etc", "y")
	if err := os.WriteFile(y, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ev := range expect(t, ch, "for "+y, func(ev Event) bool { return ev.Path == y }) {
		if within(ev.Path, cache) {
			t.Errorf("event %v in the excluded %s", ev, cache)
		}
	}
}

func TestRenamedDirectoryRekeyed(t *testing.T) {
	root := t.TempDir()
	fimtest.Tree{"a/sub/f": fimtest.File("f")}.Make(t, root)
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	in, ch := run(t, Options{Roots: []string{root}})
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "tree "+a, func(ev Event) bool { return ev.Path == a && ev.Op.Has(Tree) })
	expect(t, ch, "tree "+b, func(ev Event) bool { return ev.Path == b && ev.Op.Has(Tree) })
	g := filepath.Join(b, "sub", "g")
	if err := os.WriteFile(g, []byte("g"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "covering "+g, func(ev Event) bool { return covers(ev, g) })
	in.mu.Lock()
	for d := range in.dirs {
		if within(d, a) {
			t.Errorf("watch on %s still kept after the rename", d)
		}
	}
	in.mu.Unlock()
	// Deleting the subtree drops its watches.
	if err := os.RemoveAll(b); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "tree "+b+" gone", func(ev Event) bool { return ev.Path == b && ev.Op.Has(Tree) })
	if got := in.Coverage().Watched; got != 1 {
		t.Errorf("Coverage().Watched after deleting %s = %d, want 1", b, got)
	}
}

// sysctl sets a sysctl of /proc/sys/fs/inotify to v and returns the
// function that restores it, which also runs when t ends, on every path.
func sysctl(t *testing.T, name string, v int) (restore func()) {
	t.Helper()
	p := "/proc/sys/fs/inotify/" + name
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := os.WriteFile(p, old, 0o644); err != nil {
				t.Errorf("restoring %s: %v", p, err)
			}
		})
	}
	t.Cleanup(restore)
	if err := os.WriteFile(p, []byte(strconv.Itoa(v)), 0o644); err != nil {
		t.Fatal(err)
	}
	return restore
}

// watchesInUse counts the inotify watches of every process (all users: a
// bound, not the exact count of one user).
func watchesInUse(t *testing.T) int {
	t.Helper()
	infos, _ := filepath.Glob("/proc/[0-9]*/fdinfo/*")
	n := 0
	for _, f := range infos {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a process or descriptor gone meanwhile
		}
		n += strings.Count(string(b), "inotify wd:")
	}
	return n
}

func TestWatchLimitFallsBackToScans(t *testing.T) {
	fimtest.NeedRoot(t, "lowering fs.inotify.max_user_watches")
	root := t.TempDir()
	tree := fimtest.Tree{}
	for i := range 20 {
		tree[fmt.Sprintf("d%02d/f", i)] = fimtest.File("x")
	}
	tree.Make(t, root)
	// Room for a few directories only, for as short as possible: other
	// processes of root share the limit.
	restore := sysctl(t, "max_user_watches", watchesInUse(t)+4)
	in, ch := run(t, Options{Roots: []string{root}, FallbackInterval: 50 * time.Millisecond})
	restore()
	cov := in.Coverage()
	if len(cov.Fallback) == 0 || cov.Watched >= 21 {
		t.Fatalf("Coverage() = %+v, want fallback subtrees", cov)
	}
	f := cov.Fallback[0]
	expect(t, ch, "periodic tree "+f, func(ev Event) bool { return ev.Path == f && ev.Op.Has(Tree) })
	if cov.Watched+len(cov.Fallback) < 2 {
		t.Errorf("Coverage() = %+v: neither watched nor fallback for most", cov)
	}
}

func TestOverflowReported(t *testing.T) {
	fimtest.NeedRoot(t, "lowering fs.inotify.max_queued_events")
	root := t.TempDir()
	restore := sysctl(t, "max_queued_events", 16)
	in, err := NewInotify(Options{Roots: []string{root}, Buffer: 1})
	// The queue size is read when the inotify instance is made.
	restore()
	if err != nil {
		t.Fatal(err)
	}
	ready, release := make(chan struct{}), make(chan struct{})
	lost := make(chan Event, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- in.Run(ctx, func(ev Event) {
			switch {
			case ev.Op.Has(Ready):
				close(ready)
			case ev.Op.Has(Lost):
				select {
				case lost <- ev:
				default:
				}
			case ev.Op.Has(Changed):
				<-release // a stalled consumer
			}
		})
	}()
	defer func() { cancel(); <-done }()
	<-ready
	for i := range 200 {
		if err := os.WriteFile(filepath.Join(root, strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	select {
	case ev := <-lost:
		if !errors.Is(ev.Err, ErrOverflow) {
			t.Errorf("lost event error = %v, want ErrOverflow", ev.Err)
		}
	case <-time.After(wait):
		t.Fatal("no Lost event after 200 creations with a queue of 16")
	}
}
