package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// childEnv names, in the environment of a child test process, the test
// it runs inside its own user namespace.
const childEnv = "VIGIL_WATCH_TEST_USERNS"

// inUserNamespace runs t again in a child process of its own in a new user
// namespace, whose inotify limits (/proc/sys/user/max_inotify_*) are its
// own: lowering them there changes nothing for the host's processes. It
// returns true in the child, which runs the test; the parent returns false
// once the child passed, and fails t with the child's output otherwise.
func inUserNamespace(t *testing.T) (child bool) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	switch {
	case cmd.Process == nil:
		// Never started: no user namespaces here (user.max_user_namespaces
		// is 0, or a security module forbids them). Fail rather than lower
		// the host-wide limit.
		t.Fatalf("cannot start %s in a new user namespace (%v): this test lowers an inotify limit and does so only in a namespace of its own, never on the host", t.Name(), err)
	case err != nil:
		t.Fatalf("%s in a new user namespace: %v\n%s", t.Name(), err, out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("%s in a new user namespace did not pass:\n%s", t.Name(), out)
	}
	t.Logf("in a new user namespace:\n%s", out)
	return false
}

// setUserLimit sets /proc/sys/user/NAME, which in a user namespace of the
// test's own (see inUserNamespace) limits that namespace only.
func setUserLimit(t *testing.T, name string, v int) {
	t.Helper()
	if os.Getenv(childEnv) != t.Name() {
		t.Fatalf("setUserLimit(%s) outside a user namespace of the test's own would change the host", name)
	}
	p := "/proc/sys/user/" + name
	if err := os.WriteFile(p, []byte(strconv.Itoa(v)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchLimitFallsBackToScans runs with room for 4 watches (a limit of
// its user namespace): the root and 3 directories are watched, the other
// 17 are scanned periodically.
func TestWatchLimitFallsBackToScans(t *testing.T) {
	if !inUserNamespace(t) {
		return
	}
	setUserLimit(t, "max_inotify_watches", 4)
	root := t.TempDir()
	tree := fimtest.Tree{}
	for i := range 20 {
		tree[fmt.Sprintf("d%02d/f", i)] = fimtest.File("x")
	}
	tree.Make(t, root)
	in, ch := run(t, Options{Roots: []string{root}, FallbackInterval: 50 * time.Millisecond})
	cov := in.Coverage()
	if cov.Watched != 4 || len(cov.Fallback) != 17 {
		t.Fatalf("Coverage() = %+v, want 4 watched (the limit) and 17 fallback subtrees", cov)
	}
	for _, f := range cov.Fallback {
		if _, ok := in.watched(f); ok || filepath.Dir(f) != root {
			t.Errorf("fallback %s: watched as well, or not a directory of the root %s", f, root)
		}
	}
	f := cov.Fallback[0]
	expect(t, ch, "periodic tree "+f, func(ev Event) bool { return ev.Path == f && ev.Op.Has(Tree) })
}

// queuedEvents returns fs.inotify.max_queued_events, the length of every
// inotify queue (read, never written: it is host-wide, in every namespace).
func queuedEvents(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 || n > 1<<22 {
		t.Fatalf("fs.inotify.max_queued_events = %q: want a number up to %d to overflow the queue", b, 1<<22)
	}
	return n
}

// modifications writes a byte to dir/ping and dir/pong in turn, n times
// in all: n IN_MODIFY events, none merged with the one before (the kernel
// merges an event only into an identical last one).
func modifications(t *testing.T, dir string, n int) {
	t.Helper()
	var fs [2]*os.File
	for i, name := range []string{"ping", "pong"} {
		var err error
		if fs[i], err = os.Create(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		defer fs[i].Close()
	}
	for i := range n {
		if _, err := fs[i%2].Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOverflowReported overflows the kernel's queue at its real length
// (fs.inotify.max_queued_events, untouched) behind a stalled consumer.
func TestOverflowReported(t *testing.T) {
	root := t.TempDir()
	q := queuedEvents(t)
	in, err := NewInotify(Options{Roots: []string{root}, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	ready, stalled, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	lost := make(chan Event, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var once sync.Once
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
			default:
				once.Do(func() { close(stalled) })
				<-release // a stalled consumer
			}
		})
	}()
	defer func() { cancel(); <-done }()
	<-ready
	if err := os.WriteFile(filepath.Join(root, "first"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	<-stalled
	// Whatever fsnotify holds (one read, up to 4096 events, and one event
	// in its channel), the kernel's queue gets more than its length.
	modifications(t, root, q+8192)
	close(release)
	select {
	case ev := <-lost:
		if !errors.Is(ev.Err, ErrOverflow) {
			t.Errorf("lost event error = %v, want ErrOverflow", ev.Err)
		}
	case <-time.After(wait):
		t.Fatalf("no Lost event after %d modifications behind a stalled consumer, with queues of %d events", q+8192, q)
	}
}
