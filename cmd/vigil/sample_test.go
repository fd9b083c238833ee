//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
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
	for c := 1; c <= within; c++ {
		out := vigil(t, "--config", conf, "check", "--json")
		if out.code != 0 && out.code != exitChanged {
			t.Fatalf("check %d exited %d, want 0 or 4\n%s", c, out.code, out.stderr)
		}
		evs, _ := decodeEvents(t, out.stdout)
		for _, e := range evs {
			found[filepath.Base(e.Path)]++
		}
		s, created, err := engine.LoadSampleState(engine.SamplePath(db))
		if err != nil || created || s.Check != uint64(c) {
			t.Fatalf("after check %d the sample state is at check %d (created %v, %v), want %d", c, s.Check, created, err, c)
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

// TestSampleStateBad: a damaged sample state file is made anew with a
// warning naming it, and the check runs; one that others may read is
// refused with exit 24, naming it.
func TestSampleStateBad(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a")})
	mustRun(t, 0, s.args("init")...)
	state := engine.SamplePath(s.db)
	mustRun(t, 0, s.args("check")...)
	must(t, os.WriteFile(state, []byte("garbage\n"), 0o600))
	out := mustRun(t, 0, "--config", s.config, "check")
	if !strings.Contains(out.stderr, state) || !strings.Contains(out.stderr, "sample state damaged") {
		t.Errorf("check with a damaged sample state: stderr %q, want a warning naming %s", out.stderr, state)
	}
	if st, _, err := engine.LoadSampleState(state); err != nil || st.Check != 1 {
		t.Errorf("sample state after the check that remade it: check %d, %v; want 1, nil", st.Check, err)
	}
	must(t, os.Chmod(state, 0o644))
	out = mustRun(t, exitDatabase, s.args("check")...)
	if !strings.Contains(out.stderr, state) || !strings.Contains(out.stderr, "unsafe sample state") {
		t.Errorf("check with a sample state readable by others: stderr %q, want an error naming %s", out.stderr, state)
	}
}

// TestSampleStateFlag: --sample-state keeps the state where it says, not
// beside the database; a scoped check counts nothing.
func TestSampleStateFlag(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a")})
	mustRun(t, 0, s.args("init")...)
	own := filepath.Join(t.TempDir(), "sample")
	mustRun(t, 0, s.args("check", "--sample-state", own)...)
	mustRun(t, 0, s.args("check", "--sample-state", own)...)
	mustRun(t, 0, s.args("check", "--sample-state", own, s.path("a"))...)
	if st, _, err := engine.LoadSampleState(own); err != nil || st.Check != 2 {
		t.Errorf("--sample-state %s after two whole checks and a scoped one: check %d, %v; want 2, nil", own, st.Check, err)
	}
	if _, err := os.Stat(engine.SamplePath(s.db)); err == nil {
		t.Errorf("%s exists, want the state only at %s", engine.SamplePath(s.db), own)
	}
}
