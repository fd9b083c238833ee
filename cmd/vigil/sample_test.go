//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// TestSampleRereadsWithin: files changed through shared writable mappings
// made before the baseline, on tmpfs, where such writes move no timestamp
// after the first, are found by the keyed sample alone;
// with the sample key and check counter kept between runs, every one of
// them is found within reread_within consecutive checks. (With a fresh key
// per check, as before the state file, all 40 were found in 6 checks about
// one time in 40.)
func TestSampleRereadsWithin(t *testing.T) {
	fimtest.NeedRoot(t, "mounts a tmpfs")
	mnt := t.TempDir()
	must(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m"))
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	root := filepath.Join(mnt, "tree")
	must(t, os.Mkdir(root, 0o755))
	const files, within = 40, 6
	var maps [][]byte
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("f%02d", i))
		must(t, os.WriteFile(p, []byte("original content"), 0o644))
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		must(t, err)
		m, err := unix.Mmap(int(f.Fd()), 0, 16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		must(t, err)
		must(t, f.Close())
		m[0] = 'o' // the first write through it faults, and that moves the times
		maps = append(maps, m)
	}
	t.Cleanup(func() {
		for _, m := range maps {
			_ = unix.Munmap(m)
		}
	})
	dir := t.TempDir()
	db, conf := filepath.Join(dir, "vigil.db"), filepath.Join(dir, "vigil.toml")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf("database = %q\nroots = [%q]\nscan.reread_within = %d\n", db, root, within)), 0o644))
	fimtest.SleepPastRacy()
	mustRun(t, 0, "--config", conf, "--quiet", "init")
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(root, "f00"), &st))
	for _, m := range maps {
		m[0] = 'O' // no mtime, no ctime
	}
	var after unix.Stat_t
	must(t, unix.Stat(filepath.Join(root, "f00"), &after))
	if after.Mtim != st.Mtim || after.Ctim != st.Ctim {
		t.Fatalf("a write through the mapping moved the times of f00: the test cannot work here")
	}

	found := map[string]int{}
	at := moveSampleClock(t)
	for c := 1; c <= within; c++ {
		k := at(c) // one check per sample period, as vigil-check.timer runs them
		out := vigil(t, "--config", conf, "check", "--json")
		if out.code != 0 && out.code != exitChanged {
			t.Fatalf("check %d exited %d, want 0 or 4\n%s", c, out.code, out.stderr)
		}
		evs, _ := decodeEvents(t, out.stdout)
		for _, e := range evs {
			found[filepath.Base(e.Path)]++
		}
		s, created, err := engine.LoadSampleState(engine.SamplePath(db))
		if err != nil || created || s.Check != k {
			t.Fatalf("after check %d the sample state is at period %d (created %v, %v), want %d", c, s.Check, created, err, k)
		}
	}
	for i := range files {
		if name := fmt.Sprintf("f%02d", i); found[name] == 0 {
			t.Errorf("%s, changed through a mapping, not found in %d checks with reread_within = %d", name, within, within)
		}
	}
	if st, err := os.Stat(engine.SamplePath(db)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sample state file: %v, mode %v; want 0600", err, st.Mode())
	}
}

// TestSampleStateBad: a damaged sample state file is a finding (exit 8)
// naming it, made anew so that the next check is clean; one that others
// may read is refused with exit 24, naming it.
func TestSampleStateBad(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a")})
	mustRun(t, 0, s.args("init")...)
	state := engine.SamplePath(s.db)
	mustRun(t, 0, s.args("check")...)
	must(t, os.WriteFile(state, []byte("garbage\n"), 0o600))
	out := mustRun(t, exitTampered, "--config", s.config, "check")
	if !strings.Contains(out.stdout, "! sample state") || !strings.Contains(out.stdout, state) || !strings.Contains(out.stdout, "sample state file damaged") {
		t.Errorf("check with a damaged sample state: stdout %q, want a finding naming %s", out.stdout, state)
	}
	mustRun(t, 0, s.args("check")...)
	if _, _, err := engine.LoadSampleState(state); err != nil {
		t.Errorf("sample state after the check that remade it: %v, want it whole", err)
	}
	must(t, os.Chmod(state, 0o644))
	out = mustRun(t, exitDatabase, s.args("check")...)
	if !strings.Contains(out.stderr, state) || !strings.Contains(out.stderr, "unsafe sample state") {
		t.Errorf("check with a sample state readable by others: stderr %q, want an error naming %s", out.stderr, state)
	}
}

// TestSampleStateFlag: --sample-state keeps the state where it says, not
// beside the database; a scoped check records nothing.
func TestSampleStateFlag(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a")})
	mustRun(t, 0, s.args("init")...)
	own := filepath.Join(t.TempDir(), "sample")
	mustRun(t, 0, s.args("check", "--sample-state", own)...)
	mustRun(t, 0, s.args("check", "--sample-state", own)...)
	whole, _, err := engine.LoadSampleState(own)
	must(t, err)
	mustRun(t, 0, s.args("check", "--sample-state", own, s.path("a"))...)
	if st, _, err := engine.LoadSampleState(own); err != nil || !st.Written.Equal(whole.Written) {
		t.Errorf("--sample-state %s after a scoped check: written %v, %v; want %v (the last whole check's), nil", own, st.Written, err, whole.Written)
	}
	if _, err := os.Stat(engine.SamplePath(s.db)); err == nil {
		t.Errorf("%s exists, want the state only at %s", engine.SamplePath(s.db), own)
	}
}

// moveSampleClock makes the sample count its periods by a clock the test
// moves, and returns the function that sets it i periods after the real
// time and returns the period's number. The test must not be parallel:
// the clock is the package's (sampleNow); it is put back when the test ends.
func moveSampleClock(t *testing.T) func(i int) uint64 {
	t.Helper()
	t0 := time.Now()
	var now time.Time
	sampleNow = func() time.Time { return now }
	t.Cleanup(func() { sampleNow = nil })
	return func(i int) uint64 {
		now = t0.Add(time.Duration(i) * engine.DefaultSamplePeriod)
		return uint64(now.UnixNano() / int64(engine.DefaultSamplePeriod))
	}
}

// TestSampleCannotBeSteered: the red team's attack on the keyed sample,
// against one tampered file (its content changed through a mapping on
// tmpfs, its times as recorded): the sample state file frozen (written
// back after each check, or made immutable), rewritten before each check
// to a counter chosen so that the old counting would skip the file, or
// deleted before each check. With one check per sample period, as the
// timer runs them, the file is found within reread_within checks in every
// case, and every attacked check reports what was done (exit 8).
func TestSampleCannotBeSteered(t *testing.T) {
	fimtest.NeedRoot(t, "mounts a tmpfs and sets the immutable flag")
	mnt := t.TempDir()
	must(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m"))
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	root := filepath.Join(mnt, "tree")
	must(t, os.Mkdir(root, 0o755))
	for i := range 60 {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("f%02d", i)), []byte("a file"), 0o644))
	}
	victim := filepath.Join(root, "su")
	must(t, os.WriteFile(victim, []byte("the real su"), 0o755))
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	must(t, err)
	m, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	must(t, err)
	must(t, f.Close())
	t.Cleanup(func() { _ = unix.Munmap(m) })
	m[0] = 'T' // the first write through the mapping moves the times
	dir := t.TempDir()
	db, conf := filepath.Join(dir, "vigil.db"), filepath.Join(dir, "vigil.toml")
	const within = 30
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf("database = %q\nroots = [%q]\nscan.reread_within = %d\n", db, root, within)), 0o644))
	fimtest.SleepPastRacy()
	mustRun(t, 0, "--config", conf, "--quiet", "init")
	var before, after unix.Stat_t
	must(t, unix.Lstat(victim, &before))
	m[4] = 'F' // "The fake su": no mtime, no ctime
	must(t, unix.Lstat(victim, &after))
	if after.Mtim != before.Mtim || after.Ctim != before.Ctim {
		t.Fatalf("a write through the mapping moved the times of %s: the test cannot work here", victim)
	}
	victimEntry := merkle.Entry{Path: victim, Dev: after.Dev, Inode: after.Ino}

	at := moveSampleClock(t)
	tests := []struct {
		name   string
		before func(t *testing.T, state string, k uint64) // the attack
		want   string                                     // in the finding
	}{
		{name: "written back after each check", want: "sample state file replaced",
			before: func(t *testing.T, state string, _ uint64) {
				must(t, os.WriteFile(state, firstState[state], 0o600))
			}},
		{name: "immutable", want: "sample state file frozen",
			before: func(t *testing.T, state string, _ uint64) {
				if !frozen[state] {
					setFlags(t, state, fsImmutable)
					frozen[state] = true
				}
			}},
		{name: "rewritten to a chosen counter", want: "sample state file ahead of the clock",
			before: func(t *testing.T, state string, k uint64) {
				s, _, err := engine.LoadSampleState(state)
				must(t, err)
				// The counter after which the old counting (check = state+1)
				// would not read the file: the first from this period on.
				s.Check = k + 1
				for (&scanner.Sample{Key: s.Key, Check: s.Check + 1, Within: within}).Due(&victimEntry) {
					s.Check++
				}
				must(t, s.Save(state))
			}},
		{name: "deleted before each check", want: "sample state file missing",
			before: func(t *testing.T, state string, _ uint64) { must(t, os.Remove(state)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "sample")
			at(0)
			mustRunOneOf(t, "--config", conf, "--quiet", "check", "--sample-state", state)
			b, err := os.ReadFile(state)
			must(t, err)
			firstState[state] = b
			found := 0
			for c := 1; c <= within+1; c++ {
				k := at(c + 1) // from two periods after the baseline's: a missing state is no first check
				tt.before(t, state, k)
				out := vigil(t, "--config", conf, "check", "--json", "--sample-state", state)
				if out.code&exitTampered == 0 || !strings.Contains(out.stdout, "sample_state_tampered") || !strings.Contains(out.stdout, tt.want) {
					t.Errorf("check %d: exit %d, stdout\n%s\nwant exit 8 and a sample_state_tampered finding saying %q", c, out.code, out.stdout, tt.want)
				}
				evs, _ := decodeEvents(t, out.stdout)
				for _, e := range evs {
					if e.Path == victim && found == 0 {
						found = c
					}
				}
			}
			if found == 0 || found > within {
				t.Errorf("%s changed with its times kept: first found at check %d of %d, want within %d", victim, found, within+1, within)
			}
			t.Logf("%s found at check %d", victim, found)
		})
	}
}

// firstState holds each state file's content after its first check; frozen
// says which state files were made immutable. Only the non-parallel
// TestSampleCannotBeSteered uses them.
var firstState, frozen = map[string][]byte{}, map[string]bool{}

// mustRunOneOf runs args and fails unless it exits 0 or 4 (the sample found
// the tampered file).
func mustRunOneOf(t *testing.T, args ...string) {
	t.Helper()
	if out := vigil(t, args...); out.code != 0 && out.code != exitChanged {
		t.Fatalf("vigil %q exited %d, want 0 or 4\n%s%s", args, out.code, out.stdout, out.stderr)
	}
}

// Inode flags (linux/fs.h), as chattr +i sets it.
const fsImmutable = 0x10

// setFlags adds inode flags to path, and takes them off when the test ends.
func setFlags(t *testing.T, path string, flags int) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	must(t, err)
	defer unix.Close(fd)
	old, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	must(t, err)
	must(t, unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(old)|flags))
	t.Cleanup(func() {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err == nil {
			err = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(old))
			unix.Close(fd)
		}
		if err != nil {
			t.Errorf("taking the flags %#x off %s: %v", flags, path, err)
		}
	})
}

// TestSampleUnprivileged: a check as an unprivileged user (as
// vigil-check.service runs it) keeps the sample state in its own
// directory and exits 0 while the state is sound, and 8 once it was written
// back. It switches the process to nobody, so it must not run in parallel.
func TestSampleUnprivileged(t *testing.T) {
	fimtest.NeedRoot(t, "switching to nobody")
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b")})
	stateDir := filepath.Join(t.TempDir(), "vigil-check")
	must(t, os.Mkdir(stateDir, 0o700))
	must(t, os.Chown(stateDir, nobody, nobody))
	for _, p := range []string{s.root, filepath.Dir(s.root), filepath.Dir(s.db), filepath.Dir(filepath.Dir(s.db)), filepath.Dir(stateDir)} {
		must(t, os.Chmod(p, 0o755))
	}
	mustRun(t, 0, s.args("init")...)
	for _, p := range []string{s.db, s.config} {
		must(t, os.Chmod(p, 0o644))
	}
	state := filepath.Join(stateDir, "sample")
	var outs []output
	asNobody(t, func() {
		check := func() { outs = append(outs, vigil(t, "--config", s.config, "check", "--sample-state", state)) }
		check()
		check()
		b, err := os.ReadFile(state)
		if err == nil {
			err = os.WriteFile(state, b, 0o600)
		}
		if err != nil {
			t.Errorf("writing %s back as nobody: %v", state, err)
		}
		check()
	})
	for i, want := range []int{0, 0, exitTampered} {
		if outs[i].code != want {
			t.Errorf("check %d as nobody exited %d, want %d\nstdout:\n%s\nstderr:\n%s", i+1, outs[i].code, want, outs[i].stdout, outs[i].stderr)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(state, &st); err != nil || st.Uid != nobody || st.Mode&0o777 != 0o600 {
		t.Errorf("state file %s: %v, owner %d, mode %o; want nobody's, 0600", state, err, st.Uid, st.Mode&0o777)
	}
}
