//go:build linux

package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/store"
)

// restoreFixture is a Btrfs subvolume vol whose usr is the baseline's
// root, with a read-only snapshot of vol recorded with the baseline.
type restoreFixture struct {
	mnt, vol, root, snap string
	cfg                  *config.Config
	db                   *store.DB
}

func capNetBind() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<10)
	return b
}

func setInodeFlags(t *testing.T, p string, f uint32) {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(f)); err != nil {
		t.Fatalf("FS_IOC_SETFLAGS %s: %v", p, err)
	}
}

// newRestoreFixture makes the tree, takes the baseline (signed by signer
// if set) and records the snapshot with it.
func newRestoreFixture(t *testing.T, signer note.Signer) *restoreFixture {
	t.Helper()
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	f := &restoreFixture{mnt: mnt, vol: filepath.Join(mnt, "vol"), snap: filepath.Join(mnt, "snaps", "1")}
	f.root = filepath.Join(f.vol, "usr")
	must(t, btrfs.Create(f.vol))
	tool := filepath.Join(f.root, "bin/tool")
	must(t, os.MkdirAll(filepath.Dir(tool), 0o755))
	must(t, os.MkdirAll(filepath.Join(f.root, "lib/sub"), 0o755))
	must(t, os.WriteFile(tool, bytes.Repeat([]byte("trusted "), 8192), 0o755))
	must(t, os.Chown(tool, 0, 50))
	must(t, unix.Chmod(tool, 0o4755))
	must(t, unix.Setxattr(tool, "security.capability", capNetBind(), 0))
	must(t, os.WriteFile(filepath.Join(f.root, "lib/a.so"), []byte("library a"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "lib/sub/b.so"), []byte("library b"), 0o644))
	must(t, os.Symlink("a.so", filepath.Join(f.root, "lib/a.so.1")))
	fimtest.Age(t, f.vol, fimtest.Past)
	setInodeFlags(t, tool, 0x10)
	must(t, os.Mkdir(filepath.Join(mnt, "snaps"), 0o700))
	must(t, btrfs.Snapshot(f.vol, f.snap, true))
	dbPath := filepath.Join(t.TempDir(), "vigil.db")
	f.cfg = parseConfig(t, dbPath, f.root)
	db, err := store.Open(dbPath, store.Options{})
	must(t, err)
	t.Cleanup(func() { db.Close() })
	f.db = db
	_, err = engine.Init(t.Context(), db, engine.Options{Config: f.cfg, Host: "h", Phase: engine.PhaseSetup})
	must(t, err)
	f.recordSnapshot(t, signer)
	return f
}

// recordSnapshot writes a baseline identical to the current one but for
// its record of the snapshot, signed by signer if set (init will record
// it itself).
func (f *restoreFixture) recordSnapshot(t *testing.T, signer note.Signer) {
	t.Helper()
	cur, err := f.db.Current()
	must(t, err)
	si, err := btrfs.Info(f.snap)
	must(t, err)
	li, err := btrfs.Info(f.vol)
	must(t, err)
	info := cur.Info()
	info.Parent, info.Command, info.Signature, info.SignedBy = info.ID, "seal", nil, ""
	info.Snapshots = []store.Snapshot{{Root: f.root, Top: f.vol, Path: f.snap, ID: si.ID, UUID: si.UUID.String(),
		OTransid: si.OTransid, CTransid: si.CTransid, LiveID: li.ID, LiveUUID: li.UUID.String()}}
	at, err := f.db.Audit()
	must(t, err)
	info.AuditSize, info.AuditRoot = at.N, at.Hash.String()
	w, err := f.db.CreateDelta(info, cur)
	must(t, err)
	pending := w.Pending(merkle.Hash(cur.Info().Root))
	rec, _ := json.Marshal(engine.AuditRecord{Type: "seal", Baseline: pending.ID, Parent: pending.Parent, Root: pending.Root.String()})
	s := store.Sealing{Audit: rec}
	if signer != nil {
		sig, err := note.Sign(&note.Note{Text: engine.Statement(pending)}, signer)
		must(t, err)
		s.Signature, s.SignedBy = sig, signer.Name()
	}
	_, err = w.CommitSealed(merkle.Hash(cur.Info().Root), 5, s)
	must(t, err)
}

func (f *restoreFixture) restore(t *testing.T, o engine.RestoreOptions) []engine.RestoreResult {
	t.Helper()
	if o.Config == nil {
		o.Config = f.cfg
	}
	res, err := engine.Restore(t.Context(), f.db, o)
	if err != nil {
		t.Fatalf("Restore(%v) = %v", o.Paths, err)
	}
	return res
}

// check runs a check of the baseline's root and returns the changes found,
// relative to vol.
func (f *restoreFixture) check(t *testing.T) []string {
	t.Helper()
	var got []string
	_, err := engine.Check(t.Context(), f.db, engine.Options{Config: f.cfg, Full: true, Report: engine.Funcs{OnChange: func(c merkle.Change) error {
		got = append(got, fmt.Sprintf("%s %s %s", c.Action, strings.TrimPrefix(c.Path, f.vol), c.Changed))
		return nil
	}}})
	must(t, err)
	return got
}

func TestRestoreFile(t *testing.T) {
	f := newRestoreFixture(t, nil)
	tool := filepath.Join(f.root, "bin/tool")
	st0, err := os.Lstat(tool)
	must(t, err)
	// Tampered with: content of the same size, mtime put back, the
	// capability and +i kept.
	setInodeFlags(t, tool, 0)
	must(t, os.WriteFile(tool, bytes.Repeat([]byte("evil!!! "), 8192), 0))
	must(t, unix.Chmod(tool, 0o4755))
	must(t, os.Chtimes(tool, st0.ModTime(), st0.ModTime()))
	setInodeFlags(t, tool, 0x10)
	if got := f.check(t); len(got) != 1 || !strings.HasPrefix(got[0], "updated /usr/bin/tool content") {
		t.Fatalf("check after tampering = %q", got)
	}

	dry := f.restore(t, engine.RestoreOptions{Paths: []string{tool}, DryRun: true})
	if len(dry) != 1 || dry[0].Action != engine.WouldRestore || !dry[0].Changed.Has(merkle.AttrContent) {
		t.Fatalf("dry run = %+v, want would_restore with content changed", dry)
	}
	if b, _ := os.ReadFile(tool); !bytes.HasPrefix(b, []byte("evil")) {
		t.Fatalf("a dry run changed the file")
	}
	if q, _ := os.ReadDir(filepath.Join(f.vol, btrfs.DefaultQuarantine)); len(q) > 0 {
		t.Errorf("a dry run quarantined %v", q)
	}

	res := f.restore(t, engine.RestoreOptions{Paths: []string{tool}})
	if len(res) != 1 || res[0].Action != engine.Restored || res[0].Err != nil || res[0].Cloned != 1 || len(res[0].Quarantined) != 1 {
		t.Fatalf("Restore = %+v, want restored, cloned, one inode quarantined", res)
	}
	q, err := os.Lstat(res[0].Quarantined[0])
	if err != nil || q.Mode().Perm() != 0 || q.Mode()&os.ModeSetuid != 0 {
		t.Errorf("quarantined %s: %v, %v; want mode 0", res[0].Quarantined[0], q, err)
	}
	// What is left for check: the new inode and its ctime.
	for _, c := range f.check(t) {
		if c != "attributes_modified /usr/bin/tool ctime,inode" && c != "attributes_modified /usr/bin ctime" {
			t.Errorf("check after the restore: %q, want only ctime,inode of /usr/bin/tool, ctime of /usr/bin", c)
		}
	}
	again := f.restore(t, engine.RestoreOptions{Paths: []string{tool}})
	if again[0].Action != engine.Intact {
		t.Errorf("second Restore = %+v, want intact", again[0])
	}
}

func TestRestoreSubtree(t *testing.T) {
	f := newRestoreFixture(t, nil)
	lib := filepath.Join(f.root, "lib")
	must(t, os.WriteFile(filepath.Join(lib, "a.so"), []byte("trojan a"), 0o644))
	must(t, os.Remove(filepath.Join(lib, "a.so.1")))
	must(t, os.Symlink("/tmp/evil.so", filepath.Join(lib, "a.so.1")))
	must(t, os.RemoveAll(filepath.Join(lib, "sub")))
	must(t, os.WriteFile(filepath.Join(lib, "sub"), []byte("not a dir"), 0o644))
	must(t, os.WriteFile(filepath.Join(lib, "planted.so"), []byte("x"), 0o755))
	must(t, os.Chmod(lib, 0o777))
	res := f.restore(t, engine.RestoreOptions{Paths: []string{lib}})
	if len(res) != 1 || res[0].Action != engine.Restored {
		t.Fatalf("Restore(lib) = %+v", res)
	}
	if n := len(res[0].Quarantined); n != 4 { // a.so, a.so.1, sub, planted.so
		t.Errorf("quarantined %q, want 4", res[0].Quarantined)
	}
	if got := f.check(t); len(got) != 0 {
		for _, c := range got {
			if !strings.HasSuffix(c, "ctime,inode") && !strings.HasSuffix(c, " ctime") {
				t.Errorf("check after the subtree restore: %q", c)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(lib, "sub/b.so")); string(b) != "library b" {
		t.Errorf("sub/b.so = %q", b)
	}
}

func TestRestoreRefusals(t *testing.T) {
	f := newRestoreFixture(t, nil)
	a := filepath.Join(f.root, "lib/a.so")
	must(t, os.WriteFile(a, []byte("trojan a"), 0o644))

	// A parent directory replaced by a symlink to a tree of the
	// attacker's.
	elsewhere := filepath.Join(f.vol, "tmp/sub")
	must(t, os.MkdirAll(elsewhere, 0o755))
	must(t, os.WriteFile(filepath.Join(elsewhere, "b.so"), []byte("trojan b"), 0o644))
	must(t, os.RemoveAll(filepath.Join(f.root, "lib/sub")))
	must(t, os.Symlink(elsewhere, filepath.Join(f.root, "lib/sub")))
	res := f.restore(t, engine.RestoreOptions{Paths: []string{filepath.Join(f.root, "lib/sub/b.so"), "/elsewhere"}})
	if res[0].Action != engine.Refused || !errors.Is(res[0].Err, engine.ErrUnsafePath) {
		t.Errorf("Restore under a symlinked parent = %+v, want refused (ErrUnsafePath)", res[0])
	}
	if res[1].Action != engine.Refused || !errors.Is(res[1].Err, engine.ErrOutside) {
		t.Errorf("Restore outside the roots = %+v, want refused (ErrOutside)", res[1])
	}
	if b, _ := os.ReadFile(filepath.Join(elsewhere, "b.so")); string(b) != "trojan b" {
		t.Errorf("the symlink's target was written")
	}

	// The snapshot tampered with: read-only flag cleared, the file edited
	// to what the attacker wants, the flag set again.
	fd, err := btrfs.OpenDir(f.snap)
	must(t, err)
	defer unix.Close(fd)
	must(t, btrfs.SetReadOnly(fd, false))
	must(t, os.WriteFile(filepath.Join(f.snap, "usr/lib/a.so"), []byte("trojan a"), 0o644))
	must(t, btrfs.SetReadOnly(fd, true))
	res = f.restore(t, engine.RestoreOptions{Paths: []string{a}})
	if res[0].Action != engine.Refused || !errors.Is(res[0].Err, btrfs.ErrUntrusted) {
		t.Errorf("Restore from a tampered snapshot = %+v, want refused (untrusted)", res[0])
	}
	if b, _ := os.ReadFile(a); string(b) != "trojan a" {
		t.Errorf("a refused restore changed the file: %q", b)
	}
	if q, _ := os.ReadDir(filepath.Join(f.vol, btrfs.DefaultQuarantine)); len(q) > 0 {
		t.Errorf("a refused restore quarantined %v", q)
	}
	// --from a snapshot no baseline records.
	res = f.restore(t, engine.RestoreOptions{Paths: []string{a}, From: filepath.Join(f.mnt, "snaps/2")})
	if !errors.Is(res[0].Err, engine.ErrNoSnapshot) {
		t.Errorf("Restore --from an unknown snapshot = %+v, want ErrNoSnapshot", res[0])
	}
}

// TestRestoreSourceMismatch: a trusted snapshot whose copy is not the
// baseline's (the file changed between the snapshot and the baseline) is
// never used.
func TestRestoreSourceMismatch(t *testing.T) {
	f := newRestoreFixture(t, nil)
	a := filepath.Join(f.root, "lib/a.so")
	must(t, os.WriteFile(a, []byte("library a, v2"), 0o644))
	_, err := engine.Update(t.Context(), f.db, engine.Options{Config: f.cfg, Full: true})
	must(t, err)
	f.recordSnapshot(t, nil)
	must(t, os.WriteFile(a, []byte("trojan"), 0o644))
	res := f.restore(t, engine.RestoreOptions{Paths: []string{a}})
	if res[0].Action != engine.Refused || !errors.Is(res[0].Err, engine.ErrSourceMismatch) {
		t.Errorf("Restore = %+v, want refused (ErrSourceMismatch)", res[0])
	}
	if b, _ := os.ReadFile(a); string(b) != "trojan" {
		t.Errorf("a refused restore changed the file")
	}
}

func TestRestoreSealed(t *testing.T) {
	skey, vkey, err := note.GenerateKey(nil, "test.example")
	must(t, err)
	signer, err := note.NewSigner(skey)
	must(t, err)
	verifier, err := note.NewVerifier(vkey)
	must(t, err)
	f := newRestoreFixture(t, signer)
	a := filepath.Join(f.root, "lib/a.so")
	must(t, os.WriteFile(a, []byte("trojan a"), 0o644))
	res := f.restore(t, engine.RestoreOptions{Paths: []string{a}, Verifiers: note.VerifierList(verifier)})
	if res[0].Action != engine.Restored {
		t.Fatalf("Restore of a sealed baseline = %+v", res[0])
	}
	_, other, _ := note.GenerateKey(nil, "other.example")
	ov, _ := note.NewVerifier(other)
	_, err = engine.Restore(context.Background(), f.db, engine.RestoreOptions{Paths: []string{a}, Verifiers: note.VerifierList(ov)})
	if !errors.Is(err, store.ErrTampered) {
		t.Errorf("Restore with another pinned key = %v, want ErrTampered", err)
	}
}

func TestDeviceFindings(t *testing.T) {
	f := newRestoreFixture(t, nil)
	cur, err := f.db.Current()
	must(t, err)
	in := cur.Info()
	if len(in.DevStats) != 1 || in.DevStats[0].CorruptionErrs != 0 || in.DevStats[0].FSID == "" {
		t.Fatalf("recorded DevStats = %+v, want one device, zero counters", in.DevStats)
	}
	fs, err := engine.DeviceFindings(in, nil)
	if err != nil || len(fs) != 0 {
		t.Fatalf("DeviceFindings of a fresh filesystem = %+v, %v", fs, err)
	}
	// Recorded lower than now is impossible with zero counters: record
	// higher ones (a reset since) and a device that has gone.
	rec := in.DevStats[0]
	in.DevStats[0].CorruptionErrs, in.DevStats[0].ReadErrs = 3, 1
	gone := rec
	gone.DevID = 2
	in.DevStats = append(in.DevStats, gone)
	fs, err = engine.DeviceFindings(in, nil)
	if err != nil || len(fs) != 2 {
		t.Fatalf("DeviceFindings = %+v, %v; want two", fs, err)
	}
	if !fs[0].Reset || strings.Join(fs[0].Changed, ",") != "read_errs,corruption_errs" || !fs[1].Missing {
		t.Errorf("DeviceFindings = %+v, want a reset of read_errs,corruption_errs and device 2 missing", fs)
	}
	// No record: compared with zero, nothing to report.
	in.DevStats = nil
	if fs, err := engine.DeviceFindings(in, nil); err != nil || len(fs) != 0 {
		t.Errorf("DeviceFindings with no record = %+v, %v", fs, err)
	}
}
