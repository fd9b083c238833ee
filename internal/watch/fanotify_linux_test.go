package watch

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"vigil/internal/fimtest"
)

// fanotifyRoot returns a directory on a filesystem of the test's own (a
// loop-mounted ext4 image in its temp dir), so that no other process's
// changes reach the mark.
func fanotifyRoot(t *testing.T, size int64) string {
	t.Helper()
	fimtest.NeedRoot(t, "fanotify needs CAP_SYS_ADMIN")
	mnt := fimtest.LoopFS(t, "ext4", size, "")
	root := filepath.Join(mnt, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// runFanotify starts a fanotify source and returns its events, after
// Ready.
func runFanotify(t *testing.T, o Options) (*Fanotify, <-chan Event) {
	t.Helper()
	f, err := NewFanotify(o)
	if err != nil {
		t.Fatalf("NewFanotify(%v): %v", o.Roots, err)
	}
	return f, start(t, f)
}

func start(t *testing.T, src Source) <-chan Event {
	t.Helper()
	ch := make(chan Event, 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(ev Event) { ch <- ev }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	expect(t, ch, "ready", func(ev Event) bool { return ev.Op.Has(Ready) })
	return ch
}

// sh runs script in dir as a child process and waits for it.
func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh -c %q: %v\n%s", script, err, out)
	}
}

// upTo reads events until one names path (a marker written last by a
// child), and returns those before it.
func upTo(t *testing.T, ch <-chan Event, path string) []Event {
	t.Helper()
	evs := expect(t, ch, "for "+path, func(ev Event) bool { return ev.Path == path })
	return evs[:len(evs)-1]
}

func TestFanotifyAttribution(t *testing.T) {
	root := fanotifyRoot(t, 64<<20)
	f, ch := runFanotify(t, Options{Roots: []string{root}})
	if c := f.Coverage(); c.Intake != "fanotify" || len(c.Filesystems) != 1 || len(c.Inotify) != 0 {
		t.Errorf("Coverage() = %+v, want fanotify with one filesystem marked, nothing left to inotify", c)
	}

	// A child that writes and stays alive until told, so that /proc still
	// shows it when the event is read.
	cmd := exec.Command("sh", "-c", "echo x > f; read _")
	cmd.Dir = root
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	file := filepath.Join(root, "f")
	evs := expect(t, ch, "for f", func(ev Event) bool { return ev.Path == file })
	got := evs[len(evs)-1].Process
	exe, err := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.PID != cmd.Process.Pid || got.Executable != exe || got.UID != "0" || got.User != "root" ||
		got.PPID != os.Getpid() || got.Name == "" || !slices.Equal(got.Args, []string{"sh", "-c", "echo x > f; read _"}) {
		t.Errorf("event for %s: Process = %+v, want pid %d, exe %s, uid 0 (root), parent %d, args of sh -c", file, got, cmd.Process.Pid, exe, os.Getpid())
	}
	io.WriteString(stdin, "\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}

	// vigil's own writes are no hint: nothing before the marker names own.
	own := filepath.Join(root, "own")
	if err := os.WriteFile(own, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(own, 0o600); err != nil {
		t.Fatal(err)
	}
	sh(t, root, "echo > marker")
	for _, ev := range upTo(t, ch, filepath.Join(root, "marker")) {
		if ev.Path == own {
			t.Errorf("event %+v for %s written by vigil's own pid %d; want none", ev, own, os.Getpid())
		}
	}
}

func TestFanotifyHints(t *testing.T) {
	root := fanotifyRoot(t, 64<<20)
	excl := filepath.Join(root, "skip")
	_, ch := runFanotify(t, Options{Roots: []string{root}, Excluded: func(p string) bool { return p == excl }})
	sh(t, root, "echo a > a; echo b > b; mkdir d d2 skip; echo c > d2/c")
	upTo(t, ch, filepath.Join(root, "d2", "c"))

	// Each change by a child process, and the hints it must give.
	for _, tc := range []struct {
		name, script string
		want         map[string]Op // path (relative) -> the hint's Op must have these
	}{
		{"create", "echo new > n", map[string]Op{"n": Changed | Closed}},
		{"write", "echo more >> a", map[string]Op{"a": Changed | Closed}},
		{"chmod", "chmod 600 b", map[string]Op{"b": Changed}},
		{"delete", "rm a", map[string]Op{"a": Changed}},
		{"rename", "mv b b2", map[string]Op{"b": Changed, "b2": Changed}},
		// No watch is needed for a new directory: what is made in it at
		// once is seen, file by file.
		{"new directory", "mkdir -p x/y && echo z > x/y/z", map[string]Op{"x": Changed, "x/y": Changed, "x/y/z": Changed | Closed}},
		{"directory moved", "mv d2 d3", map[string]Op{"d2": Tree, "d3": Tree}},
		{"directory deleted", "rmdir d", map[string]Op{"d": Tree}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(root, "marker-"+tc.name)
			sh(t, root, tc.script+"; echo > '"+marker+"'")
			evs := upTo(t, ch, marker)
			for rel, op := range tc.want {
				p := filepath.Join(root, rel)
				if !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Path == p && ev.Op.Has(op) && ev.Process != nil }) {
					t.Errorf("%s: no %v hint with a process for %s; got %v", tc.script, op, p, evs)
				}
			}
		})
	}
	sh(t, root, "echo s > skip/s; echo > marker-skip")
	for _, ev := range upTo(t, ch, filepath.Join(root, "marker-skip")) {
		if within(ev.Path, excl) && ev.Path != excl {
			t.Errorf("hint %v below the excluded %s; want none", ev, excl)
		}
	}
}

func TestFanotifyOverflow(t *testing.T) {
	root := fanotifyRoot(t, 512<<20) // inodes for more files than the queue holds events
	f, err := NewFanotify(Options{Roots: []string{root}})
	if err != nil {
		t.Fatalf("NewFanotify: %v", err)
	}
	t.Cleanup(f.close) // if the test ends before Run

	// The mark is in place and nothing reads: more events than the queue
	// holds (fs.fanotify.max_queued_events, 16384 by default).
	limit := 16384
	if b, err := os.ReadFile("/proc/sys/fs/fanotify/max_queued_events"); err == nil {
		limit, _ = strconv.Atoi(string(b[:len(b)-1]))
	}
	// Written by the test itself: the kernel queues vigil's own events
	// too (the reader drops them), one per file (create, close merged).
	for i := range limit + 500 {
		if err := os.WriteFile(filepath.Join(root, "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ch := start(t, f)
	evs := expect(t, ch, "lost", func(ev Event) bool { return ev.Op.Has(Lost) })
	if err := evs[len(evs)-1].Err; !errors.Is(err, ErrFanotifyOverflow) {
		t.Errorf("Lost event's Err = %v, want %v", err, ErrFanotifyOverflow)
	}
}

func TestFanotifySubvolumeFallsBackToInotify(t *testing.T) {
	fimtest.NeedRoot(t, "fanotify needs CAP_SYS_ADMIN")
	mnt := fimtest.LoopFS(t, "btrfs", 128<<20, "")
	sub := filepath.Join(mnt, "sub")
	fimtest.Command(t, "btrfs", "subvolume", "create", sub)
	f, ch := runFanotify(t, Options{Roots: []string{sub}})
	c := f.Coverage()
	if len(c.Inotify) != 1 || c.Inotify[0].Path != sub || c.Watched != 1 {
		t.Fatalf("Coverage() = %+v, want %s left to inotify (one watch)", c, sub)
	}
	sh(t, sub, "mkdir d; echo x > d/f")
	expect(t, ch, "for d/f", func(ev Event) bool { return covers(ev, filepath.Join(sub, "d", "f")) })
}

// TestFanotifyMountBelowRoot: a filesystem mounted below a root gets a
// mark of its own, and its events resolve to paths through that mount.
func TestFanotifyMountBelowRoot(t *testing.T) {
	root := fanotifyRoot(t, 64<<20)
	other := fimtest.LoopFS(t, "ext4", 64<<20, "")
	sub := filepath.Join(root, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fimtest.Command(t, "mount", "--bind", other, sub)
	t.Cleanup(func() { fimtest.Command(t, "umount", sub) })
	f, ch := runFanotify(t, Options{Roots: []string{root}})
	if c := f.Coverage(); !slices.Equal(c.Filesystems, []string{root, sub}) || len(c.Inotify) != 0 {
		t.Errorf("Coverage() = %+v, want marks on %s and %s", c, root, sub)
	}
	sh(t, sub, "mkdir d; echo x > d/f")
	expect(t, ch, "for sub/d/f", func(ev Event) bool { return ev.Path == filepath.Join(sub, "d", "f") && ev.Process != nil })
}
