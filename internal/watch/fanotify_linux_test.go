package watch

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

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

// fanEvent encodes one event as the kernel does: metadata, then a
// DFID_NAME record (fsid, handle, name) and a PIDFD record.
func fanEvent(mask uint64, pid int32, handle []byte, name string) []byte {
	ne := binary.NativeEndian
	rec := make([]byte, fidHdrLen, 64)
	rec[0] = unix.FAN_EVENT_INFO_TYPE_DFID_NAME
	ne.PutUint32(rec[4:], 7)
	ne.PutUint32(rec[12:], uint32(len(handle)))
	ne.PutUint32(rec[16:], 1)
	rec = append(append(append(rec, handle...), name...), 0)
	for len(rec)%4 != 0 {
		rec = append(rec, 0)
	}
	ne.PutUint16(rec[2:], uint16(len(rec)))
	pidfd := make([]byte, 8)
	pidfd[0] = unix.FAN_EVENT_INFO_TYPE_PIDFD
	ne.PutUint16(pidfd[2:], 8)
	ne.PutUint32(pidfd[4:], ^uint32(0)) // FAN_NOPIDFD
	meta := make([]byte, metaLen)
	ne.PutUint32(meta[0:], uint32(metaLen+len(rec)+len(pidfd)))
	meta[4] = unix.FANOTIFY_METADATA_VERSION
	ne.PutUint16(meta[6:], metaLen)
	ne.PutUint64(meta[8:], mask)
	ne.PutUint32(meta[16:], ^uint32(0)) // FAN_NOFD
	ne.PutUint32(meta[20:], uint32(pid))
	return append(append(meta, rec...), pidfd...)
}

func TestParseEvents(t *testing.T) {
	b := append(fanEvent(unix.FAN_CREATE|unix.FAN_CLOSE_WRITE, 42, []byte{1, 2, 3, 4, 5, 6, 7, 8}, "f"),
		fanEvent(unix.FAN_MOVED_TO|unix.FAN_ONDIR, 43, []byte{9, 9, 9, 9}, "d")...)
	got, ok := parseEvents(b)
	if !ok || len(got) != 2 || got[0].pid != 42 || got[0].name != "f" || got[0].fsid != [2]int32{7, 0} || got[0].htype != 1 ||
		!slices.Equal(got[0].handle, []byte{1, 2, 3, 4, 5, 6, 7, 8}) || got[0].fd != -1 || got[0].pidfd != -1 ||
		got[1].mask != unix.FAN_MOVED_TO|unix.FAN_ONDIR || got[1].name != "d" {
		t.Errorf("parseEvents = %+v, %v; want the two events", got, ok)
	}
	if got, ok := parseEvents(b[:len(b)-3]); ok || len(got) != 1 {
		t.Errorf("parseEvents of a truncated second event = %d events, %v; want the first, false", len(got), ok)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add(fanEvent(unix.FAN_MODIFY, 1, []byte{1, 2, 3, 4}, "x"))
	f.Add(append(fanEvent(unix.FAN_DELETE, 2, nil, ""), fanEvent(unix.FAN_ATTRIB, 3, make([]byte, 128), "long name")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _ := parseEvents(b) // must not panic
		for _, ev := range evs {
			if len(ev.handle) > len(b) || len(ev.name) > len(b) {
				t.Errorf("event %+v larger than its input (%d bytes)", ev, len(b))
			}
		}
	})
}

// TestAuto: NewAuto is fanotify where it can mark, and inotify, saying
// why, where it can mark nothing (a root that is a Btrfs subvolume).
func TestAuto(t *testing.T) {
	ext := fanotifyRoot(t, 64<<20)
	mnt := fimtest.LoopFS(t, "btrfs", 128<<20, "")
	sub := filepath.Join(mnt, "sub")
	fimtest.Command(t, "btrfs", "subvolume", "create", sub)
	for _, tc := range []struct {
		root, intake, reason string
	}{
		{ext, "fanotify", ""},
		{sub, "inotify", "fanotify: fanotify_mark: invalid cross-device link"},
	} {
		src, err := NewAuto(Options{Roots: []string{tc.root}})
		if err != nil {
			t.Fatalf("NewAuto(%s): %v", tc.root, err)
		}
		ch := start(t, src)
		if c := src.Coverage(); c.Intake != tc.intake || c.IntakeReason != tc.reason {
			t.Errorf("NewAuto(%s).Coverage() = %+v, want intake %s, reason %q", tc.root, c, tc.intake, tc.reason)
		}
		sh(t, tc.root, "echo x > f")
		expect(t, ch, "for f", func(ev Event) bool { return ev.Path == filepath.Join(tc.root, "f") })
	}
}
