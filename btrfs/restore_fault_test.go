//go:build linux

package btrfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/fsys"
)

// firstOf offers each call to its injectors in turn; the first error wins.
type firstOf []fsys.Injector

func (f firstOf) Inject(op fsys.Op, path string) error {
	for _, i := range f {
		if err := i.Inject(op, path); err != nil {
			return err
		}
	}
	return nil
}

// TestRestoreFaults fails every call a restore makes on the host, one at a
// time, with EIO and with ENOSPC, and checks what is left: the target is
// the tampered file or the restored one, whole, never missing; the
// tampered inode, once swapped out, is where the result says (in the
// quarantine, or at the temporary name the error names), never lost
// beside the target unreported; a restore that failed before the swap
// leaves no temporary file behind; and the next restore, without faults,
// repairs it all.
func TestRestoreFaults(t *testing.T) {
	good := bytes.Repeat([]byte("trusted program "), 4096) // 64 KiB: not inline
	evil := bytes.Repeat([]byte("evil program!!! "), 4096)
	const rel = "usr/bin/tool"
	f := newFixture(t, func(vol string) {
		p := filepath.Join(vol, rel)
		write(t, p, string(good))
		if err := unix.Setxattr(p, "user.origin", []byte("vendor"), 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
		setFlags(t, p, immutable)
	})
	live := filepath.Join(f.vol, rel)
	dir := filepath.Dir(live)
	qdir := filepath.Join(f.vol, btrfs.DefaultQuarantine)

	// tamper puts a new, setuid inode with the evil content at the target
	// and returns its inode number.
	tamper := func(t *testing.T) uint64 {
		t.Helper()
		if _, err := os.Lstat(live); err == nil {
			setFlags(t, live, 0)
			if err := os.Remove(live); err != nil {
				t.Fatal(err)
			}
		}
		write(t, live, string(evil))
		if err := unix.Chmod(live, 0o4755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(live, "security.capability", capNetBind, 0); err != nil {
			t.Fatal(err)
		}
		return lstat(t, live).Ino
	}
	// clean empties the quarantine and removes what earlier runs left at
	// temporary names, so that each run starts from the same state.
	clean := func(t *testing.T) {
		t.Helper()
		for _, d := range []string{qdir, dir} {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if d == dir && !strings.HasPrefix(e.Name(), ".vigil-restore.") {
					continue
				}
				p := filepath.Join(d, e.Name())
				setFlags(t, p, 0)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// temps lists the temporary names in the target's directory.
	temps := func() []string {
		var out []string
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".vigil-restore.") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	quarantined := func() []string {
		var out []string
		ents, _ := os.ReadDir(qdir)
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	var n int64
	now := func() time.Time { n++; return time.Date(2025, 1, 2, 3, 4, 5, int(n), time.UTC) }

	for _, way := range []struct {
		name string
		base func() fsys.Injector // how the filesystem behaves without faults
	}{
		{"clone", func() fsys.Injector { return &fsys.Fail{} }},
		// FICLONE (the second ioctl: the first reads the source's flags)
		// and copy_file_range (the first write) refused: pread and pwrite.
		{"copy", func() fsys.Injector {
			return firstOf{&fsys.Fail{Op: fsys.Ioctl, Nth: 2, Err: unix.EOPNOTSUPP}, &fsys.Fail{Op: fsys.Write, Nth: 1, Err: unix.EXDEV}}
		}},
	} {
		// The calls a restore makes, recorded on a run without faults.
		clean(t)
		tamper(t)
		rec := &fsys.Fail{}
		if _, err := btrfs.Restore(f.snap, f.vol, rel, btrfs.RestoreOptions{Now: now, FS: fsys.FS{Faults: firstOf{rec, way.base()}}}); err != nil {
			t.Fatalf("%s: Restore without faults = %v", way.name, err)
		}
		calls := rec.Calls()
		if len(calls) < 10 {
			t.Fatalf("%s: a restore made %d calls through fsys, want every step: %v", way.name, len(calls), calls)
		}
		if reads := count(calls, fsys.Read); (reads > 0) != (way.name == "copy") {
			t.Fatalf("%s: a restore made %d reads: %v", way.name, reads, calls)
		}
		for _, errno := range []unix.Errno{unix.EIO, unix.ENOSPC} {
			for i, c := range calls {
				name := fmt.Sprintf("%s/%v/%d-%s-%s", way.name, errno, i+1, c.Op, c.Path)
				t.Run(name, func(t *testing.T) {
					clean(t)
					evilIno := tamper(t)
					fail := &fsys.Fail{Nth: i + 1, Err: errno}
					opts := btrfs.RestoreOptions{Now: now, FS: fsys.FS{Faults: firstOf{fail, way.base()}}}
					r, err := btrfs.Restore(f.snap, f.vol, rel, opts)
					if len(fail.Failed()) != 1 {
						t.Fatalf("call %d (%v) was not made: the run took another path (failed %v)", i+1, c, fail.Failed())
					}
					// A nil error means done (a failed read of inode flags
					// counts as none, which the engine's verification of
					// the restored entry then sees).
					if err == nil {
						if got, _ := os.ReadFile(live); !bytes.Equal(got, good) || !strings.HasPrefix(r.Quarantined, btrfs.DefaultQuarantine+"/") {
							t.Fatalf("Restore with %v at call %d (%s %s) = %+v, nil error, but the target or the quarantine is not done", errno, i+1, c.Op, c.Path, r)
						}
					} else {
						if !errors.Is(err, errno) {
							t.Errorf("Restore = %v, want it to wrap %v", err, errno)
						}
						if !strings.Contains(err.Error(), f.mnt) {
							t.Errorf("Restore = %v, want the path named", err)
						}
					}
					checkAfterFault(t, live, good, evil, evilIno, f.vol, r, temps(), quarantined())

					// A second restore, without faults, finishes the job.
					if _, err := btrfs.Restore(f.snap, f.vol, rel, btrfs.RestoreOptions{Now: now, FS: fsys.FS{Faults: way.base()}}); err != nil {
						t.Fatalf("Restore after the fault = %v", err)
					}
					if got, _ := os.ReadFile(live); !bytes.Equal(got, good) {
						t.Errorf("after a second restore the target is not the snapshot's")
					}
				})
			}
		}
	}
}

func count(calls []fsys.Call, op fsys.Op) int {
	n := 0
	for _, c := range calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// checkAfterFault checks the state a failed restore left.
func checkAfterFault(t *testing.T, live string, good, evil []byte, evilIno uint64, vol string, r btrfs.Restored, temps, quarantined []string) {
	t.Helper()
	got, err := os.ReadFile(live)
	if err != nil {
		t.Fatalf("target after a failed restore: %v (it must be the old file or the new one)", err)
	}
	st := lstat(t, live)
	switch {
	case bytes.Equal(got, evil):
		// Not swapped: the tampered file stays, nothing else is left.
		if st.Ino != evilIno {
			t.Errorf("target holds the tampered content in inode %d, want the tampered inode %d", st.Ino, evilIno)
		}
		if len(temps) != 0 || len(quarantined) != 0 || r.Quarantined != "" {
			t.Errorf("not swapped, yet temporary files %v, quarantine %v, Quarantined %q", temps, quarantined, r.Quarantined)
		}
	case bytes.Equal(got, good):
		// Swapped: the tampered inode is where the result says.
		if st.Ino == evilIno {
			t.Fatalf("target holds the snapshot's content in the tampered inode")
		}
		if r.Quarantined == "" {
			t.Fatalf("swapped, but Quarantined is empty: the tampered inode is lost (temporary files %v, quarantine %v)", temps, quarantined)
		}
		q := filepath.Join(vol, r.Quarantined)
		qs := lstat(t, q)
		if qs.Ino != evilIno {
			t.Errorf("Quarantined %q is inode %d, want the tampered %d", r.Quarantined, qs.Ino, evilIno)
		}
		if strings.HasPrefix(r.Quarantined, btrfs.DefaultQuarantine+"/") {
			if len(temps) != 0 || len(quarantined) != 1 {
				t.Errorf("quarantined, yet temporary files %v, quarantine %v", temps, quarantined)
			}
		} else if len(temps) != 1 || len(quarantined) != 0 {
			t.Errorf("left at %q, yet temporary files %v, quarantine %v", r.Quarantined, temps, quarantined)
		}
	default:
		t.Fatalf("target after a failed restore: %d bytes, neither the tampered file nor the snapshot's", len(got))
	}
}
