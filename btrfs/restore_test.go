//go:build linux

package btrfs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/fimtest"
)

// capNetBind is a security.capability value (VFS_CAP_REVISION_2,
// effective) granting CAP_NET_BIND_SERVICE.
var capNetBind = func() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<10)
	return b
}()

const immutable = 0x10 // FS_IMMUTABLE_FL

func setFlags(t testing.TB, path string, f uint32) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(f)); err != nil {
		t.Fatalf("FS_IOC_SETFLAGS %s: %v", path, err)
	}
}

func getFlags(t testing.TB, path string) uint32 {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func lstat(t testing.TB, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// extent is one FIEMAP extent.
type extent struct {
	logical, physical, length uint64
	flags                     uint32
}

const (
	fsIocFiemap        = 0xc020660b // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync     = 1
	fiemapExtentShared = 0x2000
)

// fiemap returns the extents of the file at path (FS_IOC_FIEMAP: struct
// fiemap, 32 bytes, then struct fiemap_extent, 56 bytes each).
func fiemap(t testing.TB, path string) []extent {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const n = 128
	buf := make([]byte, 32+56*n)
	le := binary.LittleEndian
	le.PutUint64(buf[8:], ^uint64(0)) // fm_length
	le.PutUint32(buf[16:], fiemapFlagSync)
	le.PutUint32(buf[24:], n) // fm_extent_count
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
		t.Fatalf("FIEMAP %s: %v", path, e)
	}
	var out []extent
	for i := range int(le.Uint32(buf[20:])) {
		x := buf[32+56*i:]
		out = append(out, extent{le.Uint64(x[0:]), le.Uint64(x[8:]), le.Uint64(x[16:]), le.Uint32(x[40:])})
	}
	return out
}

// fixture is a subvolume vol with a read-only snapshot snap of it.
type fixture struct {
	mnt, vol, snap string
}

// newFixture makes vol, lets fill populate it, and snapshots it.
func newFixture(t testing.TB, fill func(vol string)) fixture {
	t.Helper()
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	f := fixture{mnt: mnt, vol: filepath.Join(mnt, "vol"), snap: filepath.Join(mnt, "snaps", "1")}
	if err := btrfs.Create(f.vol); err != nil {
		t.Fatal(err)
	}
	fill(f.vol)
	if err := os.Mkdir(filepath.Join(mnt, "snaps"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Snapshot(f.vol, f.snap, true); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRestoreSetuidCapImmutable(t *testing.T) {
	content := bytes.Repeat([]byte("trusted program "), 4096) // 64 KiB: not inline
	f := newFixture(t, func(vol string) {
		p := filepath.Join(vol, "usr/bin/tool")
		write(t, p, string(content))
		if err := os.Chown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o6750|os.ModeSetuid|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(p, "security.capability", capNetBind, 0); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(p, "user.origin", []byte("vendor"), 0); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		setFlags(t, p, immutable)
	})
	live := filepath.Join(f.vol, "usr/bin/tool")
	before := lstat(t, live)

	// Tamper: same size, other bytes, a capability of the attacker's,
	// owner and mode changed, mtime put back.
	setFlags(t, live, 0)
	evil := bytes.Repeat([]byte("evil program!!! "), 4096)
	if err := os.WriteFile(live, evil, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(live, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(live, 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(live, "security.capability", capNetBind, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.UtimesNano(live, []unix.Timespec{before.Atim, before.Mtim}); err != nil {
		t.Fatal(err)
	}
	setFlags(t, live, immutable)
	tamperedIno := lstat(t, live).Ino

	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	r, err := btrfs.Restore(f.snap, f.vol, "usr/bin/tool", btrfs.RestoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if !r.Cloned || r.Type != "file" {
		t.Errorf("Restore = %+v, want a cloned file", r)
	}
	got, err := os.ReadFile(live)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("restored content: %d bytes, %v; want the snapshot's", len(got), err)
	}
	st := lstat(t, live)
	if st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o7777 != 0o6750 || st.Mtim != before.Mtim {
		t.Errorf("restored uid %d gid %d mode %o mtime %v; want 1234 5678 6750 %v", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim, before.Mtim)
	}
	if st.Ino == tamperedIno {
		t.Errorf("restored inode is the tampered one (%d)", st.Ino)
	}
	for name, want := range map[string][]byte{"security.capability": capNetBind, "user.origin": []byte("vendor")} {
		v := make([]byte, 64)
		n, err := unix.Lgetxattr(live, name, v)
		if err != nil || !bytes.Equal(v[:n], want) {
			t.Errorf("restored %s = %x, %v; want %x", name, v[:max(n, 0)], err, want)
		}
	}
	if fl := getFlags(t, live); fl&immutable == 0 {
		t.Errorf("restored flags %#x, want immutable", fl)
	}
	snapFile := filepath.Join(f.snap, "usr/bin/tool")
	ex, sx := fiemap(t, live), fiemap(t, snapFile)
	if len(ex) == 0 || len(ex) != len(sx) {
		t.Fatalf("extents: restored %v, snapshot %v", ex, sx)
	}
	for i := range ex {
		if ex[i].flags&fiemapExtentShared == 0 || ex[i].physical != sx[i].physical {
			t.Errorf("extent %d: restored %+v, snapshot %+v; want shared, same physical offset", i, ex[i], sx[i])
		}
	}

	// The tampered inode: in the quarantine, neutralized.
	wantQ := ".vigil-quarantine/20250102T030405.000000006Z_usr%2Fbin%2Ftool"
	if r.Quarantined != wantQ {
		t.Errorf("Quarantined = %q, want %q", r.Quarantined, wantQ)
	}
	q := filepath.Join(f.vol, r.Quarantined)
	qs := lstat(t, q)
	if qs.Ino != tamperedIno || qs.Mode&0o7777 != 0 {
		t.Errorf("quarantined inode %d mode %o; want %d mode 0", qs.Ino, qs.Mode&0o7777, tamperedIno)
	}
	if _, err := unix.Lgetxattr(q, "security.capability", nil); !errors.Is(err, unix.ENODATA) {
		t.Errorf("quarantined copy keeps security.capability (%v)", err)
	}
	if fl := getFlags(t, q); fl&(immutable|0x20) != 0 {
		t.Errorf("quarantined flags %#x", fl)
	}
	if qd := lstat(t, filepath.Dir(q)); qd.Mode&0o7777 != 0o700 || qd.Uid != 0 {
		t.Errorf("quarantine directory mode %o uid %d, want 0700 root", qd.Mode&0o7777, qd.Uid)
	}
	if got, _ := os.ReadFile(q); !bytes.Equal(got, evil) {
		t.Errorf("quarantined content is not the tampered one")
	}
	if ents, _ := os.ReadDir(filepath.Dir(live)); len(ents) != 1 {
		t.Errorf("live directory holds %v, want only the restored file", ents)
	}
}

func TestRestoreRefusesSymlinkParent(t *testing.T) {
	f := newFixture(t, func(vol string) {
		write(t, filepath.Join(vol, "etc/ssh/sshd_config"), "PermitRootLogin no\n")
	})
	// /etc/ssh replaced by a link to a tree of the attacker's.
	elsewhere := filepath.Join(f.vol, "tmp/fake")
	write(t, filepath.Join(elsewhere, "sshd_config"), "PermitRootLogin yes\n")
	if err := os.RemoveAll(filepath.Join(f.vol, "etc/ssh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../tmp/fake", filepath.Join(f.vol, "etc/ssh")); err != nil {
		t.Fatal(err)
	}
	_, err := btrfs.Restore(f.snap, f.vol, "etc/ssh/sshd_config", btrfs.RestoreOptions{})
	if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EXDEV) {
		t.Fatalf("Restore through a symlinked parent = %v, want ELOOP", err)
	}
	if got, _ := os.ReadFile(filepath.Join(elsewhere, "sshd_config")); string(got) != "PermitRootLogin yes\n" {
		t.Errorf("the link's target was written: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(f.vol, btrfs.DefaultQuarantine)); err == nil {
		t.Errorf("a refused restore made the quarantine directory")
	}
	// The link itself is what the path holds: restoring the directory
	// replaces it, then its entry can go back in.
	r, err := btrfs.Restore(f.snap, f.vol, "etc/ssh", btrfs.RestoreOptions{})
	if err != nil || r.Type != "dir" || r.Quarantined == "" {
		t.Fatalf("Restore(etc/ssh) = %+v, %v", r, err)
	}
	if _, err := btrfs.Restore(f.snap, f.vol, "etc/ssh/sshd_config", btrfs.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.FinishDir(f.snap, f.vol, "etc/ssh"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(f.vol, "etc/ssh/sshd_config")); string(got) != "PermitRootLogin no\n" {
		t.Errorf("restored sshd_config = %q", got)
	}
	if q, err := os.Readlink(filepath.Join(f.vol, r.Quarantined)); err != nil || q != "../tmp/fake" {
		t.Errorf("quarantined link = %q, %v", q, err)
	}
	if st, sn := lstat(t, filepath.Join(f.vol, "etc/ssh")), lstat(t, filepath.Join(f.snap, "etc/ssh")); st.Mtim != sn.Mtim || st.Mode != sn.Mode {
		t.Errorf("restored directory mode %o mtime %v, snapshot's %o %v", st.Mode, st.Mtim, sn.Mode, sn.Mtim)
	}
}

func TestRestoreKinds(t *testing.T) {
	f := newFixture(t, func(vol string) {
		write(t, filepath.Join(vol, "etc/real"), "x")
		if err := os.Symlink("real", filepath.Join(vol, "etc/link")); err != nil {
			t.Fatal(err)
		}
		if err := unix.Lchown(filepath.Join(vol, "etc/link"), 7, 8); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mkfifo(filepath.Join(vol, "etc/fifo"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(vol, "etc/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(vol, "etc/d"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(filepath.Join(vol, "etc/d"), "user.k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	})
	e := filepath.Join(f.vol, "etc")
	// Tamper: the link points elsewhere, the fifo is a file, the node
	// another device, the directory opened up and relabelled, and the
	// symlink's target must never be written through.
	os.Remove(filepath.Join(e, "link"))
	if err := os.Symlink("/etc/shadow", filepath.Join(e, "link")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e, "fifo"))
	write(t, filepath.Join(e, "fifo"), "planted")
	os.Remove(filepath.Join(e, "null"))
	if err := unix.Mknod(filepath.Join(e, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 1))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(e, "d"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(e, "d"), "user.evil", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"etc/link", "etc/fifo", "etc/null", "etc/d"} {
		if _, err := btrfs.Restore(f.snap, f.vol, rel, btrfs.RestoreOptions{}); err != nil {
			t.Fatalf("Restore(%s) = %v", rel, err)
		}
	}
	if tg, _ := os.Readlink(filepath.Join(e, "link")); tg != "real" {
		t.Errorf("link -> %q, want real", tg)
	}
	if st := lstat(t, filepath.Join(e, "link")); st.Uid != 7 || st.Gid != 8 {
		t.Errorf("link owner %d:%d, want 7:8", st.Uid, st.Gid)
	}
	if st := lstat(t, filepath.Join(e, "fifo")); st.Mode != lstat(t, filepath.Join(f.snap, "etc/fifo")).Mode || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o", st.Mode)
	}
	if st := lstat(t, filepath.Join(e, "null")); st.Rdev != unix.Mkdev(1, 3) || st.Mode != lstat(t, filepath.Join(f.snap, "etc/null")).Mode {
		t.Errorf("null rdev %x mode %o", st.Rdev, st.Mode)
	}
	if st := lstat(t, filepath.Join(e, "d")); st.Mode&0o7777 != 0o750 {
		t.Errorf("d mode %o, want 750", st.Mode&0o7777)
	}
	if _, err := unix.Lgetxattr(filepath.Join(e, "d"), "user.evil", nil); !errors.Is(err, unix.ENODATA) {
		t.Errorf("d keeps user.evil (%v)", err)
	}
	qs, err := btrfs.ReadDirNames(f.vol, btrfs.DefaultQuarantine)
	if err != nil || len(qs) != 3 {
		t.Errorf("quarantine holds %v, %v; want link, fifo, null", qs, err)
	}
	for _, q := range qs {
		if !strings.Contains(q, "_etc%2F") {
			t.Errorf("quarantined name %q does not name its path", q)
		}
	}
	// A planted entry goes to the quarantine too.
	write(t, filepath.Join(e, "d/planted"), "x")
	if q, err := btrfs.Quarantine(f.vol, "etc/d/planted", btrfs.RestoreOptions{}); err != nil || !strings.HasSuffix(q, "_etc%2Fd%2Fplanted") {
		t.Errorf("Quarantine = %q, %v", q, err)
	}
	// Restoring a file that is gone.
	os.Remove(filepath.Join(e, "real"))
	if r, err := btrfs.Restore(f.snap, f.vol, "etc/real", btrfs.RestoreOptions{}); err != nil || r.Quarantined != "" {
		t.Errorf("Restore of a deleted file = %+v, %v", r, err)
	}
}

func benchmarkRestore(b *testing.B, size int) {
	f := newFixture(b, func(vol string) {
		p := filepath.Join(vol, "data/file")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
	})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := btrfs.Restore(f.snap, f.vol, "data/file", btrfs.RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRestore(b *testing.B) {
	b.Run("1MiB", func(b *testing.B) { benchmarkRestore(b, 1<<20) })
	b.Run("100MiB", func(b *testing.B) { benchmarkRestore(b, 100<<20) })
}
