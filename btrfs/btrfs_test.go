package btrfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/fimtest"
)

// fs loop-mounts a fresh Btrfs and returns its mount point.
func fs(t testing.TB) string {
	t.Helper()
	return fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, path string) int {
	t.Helper()
	fd, err := btrfs.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func ino(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSubvolumesAndSearch(t *testing.T) {
	mnt := fs(t)
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(vol, "etc/a"), "a")
	write(t, filepath.Join(vol, "etc/b"), "b")
	if err := os.Link(filepath.Join(vol, "etc/b"), filepath.Join(vol, "etc/b2")); err != nil {
		t.Fatal(err)
	}
	if ok, err := btrfs.Is(vol); err != nil || !ok {
		t.Fatalf("Is(%s) = %v, %v", vol, ok, err)
	}
	if ok, err := btrfs.Is(t.TempDir()); err == nil && ok {
		t.Fatalf("Is(tempdir) = true on a non-btrfs temp dir")
	}
	if top, err := btrfs.Top(filepath.Join(vol, "etc")); err != nil || top != vol {
		t.Fatalf("Top = %q, %v; want %s", top, err, vol)
	}
	fd := open(t, vol)
	if err := btrfs.Syncfs(fd); err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(mnt, "snaps")
	if err := os.Mkdir(snaps, 0o700); err != nil {
		t.Fatal(err)
	}
	s1 := filepath.Join(snaps, "1")
	if err := btrfs.Snapshot(vol, s1, true); err != nil {
		t.Fatal(err)
	}
	live, err := btrfs.Info(vol)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := btrfs.Info(s1)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.ReadOnly() || live.ReadOnly() {
		t.Fatalf("read-only: snapshot %v, live %v", snap.ReadOnly(), live.ReadOnly())
	}
	if snap.ParentUUID != live.UUID || snap.UUID == live.UUID || snap.UUID.IsZero() {
		t.Fatalf("uuids: snapshot %v parent %v, live %v", snap.UUID, snap.ParentUUID, live.UUID)
	}
	if snap.CTransid != live.CTransid {
		t.Fatalf("snapshot ctransid %d, live %d: a snapshot copies its source's", snap.CTransid, live.CTransid)
	}
	sfd := open(t, s1)
	if ro, err := btrfs.ReadOnly(sfd); err != nil || !ro {
		t.Fatalf("ReadOnly(snapshot) = %v, %v", ro, err)
	}

	// Nothing changed since the snapshot: the search is empty.
	changed := func(fd int, since uint64) map[uint64]btrfs.Inode {
		t.Helper()
		out := map[uint64]btrfs.Inode{}
		if err := btrfs.ChangedInodes(fd, 0, since, func(in btrfs.Inode) error {
			out[in.Ino] = in
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if c := changed(fd, snap.OTransid); len(c) != 0 {
		t.Fatalf("changed since the snapshot, before any change: %v", c)
	}
	if err := os.Chmod(filepath.Join(vol, "etc/a"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(vol, "etc/b"), "B")
	if err := os.Remove(filepath.Join(vol, "etc/a")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(vol, "etc/c"), "c")
	if err := btrfs.Syncfs(fd); err != nil {
		t.Fatal(err)
	}
	c := changed(fd, snap.OTransid)
	etc, b, cc := ino(t, filepath.Join(vol, "etc")), ino(t, filepath.Join(vol, "etc/b")), ino(t, filepath.Join(vol, "etc/c"))
	for _, want := range []uint64{etc, b, cc} {
		if _, ok := c[want]; !ok {
			t.Errorf("inode %d not among the changed: %v", want, c)
		}
	}
	if in := c[b]; in.Nlink != 2 || in.Size != 1 || in.Mode&0o777 != 0o644 {
		t.Errorf("inode item of etc/b: %+v", in)
	}
	paths, err := btrfs.InoPaths(fd, b)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	if !slices.Equal(paths, []string{"etc/b", "etc/b2"}) {
		t.Errorf("InoPaths(etc/b) = %q", paths)
	}
	if p, err := btrfs.InoLookup(fd, 0, etc); err != nil || p != "etc/" {
		t.Errorf("InoLookup(etc) = %q, %v", p, err)
	}
	// The snapshot still holds the old names.
	if p, err := btrfs.InoLookup(fd, snap.ID, etc); err != nil || p != "etc/" {
		t.Errorf("InoLookup(snapshot, etc) = %q, %v", p, err)
	}
	if c := changed(sfd, snap.OTransid); len(c) != 0 {
		t.Errorf("the read-only snapshot changed: %v", c)
	}
	live2, err := btrfs.Info(vol)
	if err != nil {
		t.Fatal(err)
	}
	if live2.CTransid <= live.CTransid {
		t.Errorf("live ctransid %d after changes, %d before", live2.CTransid, live.CTransid)
	}

	// The read-only flag can be cleared and set again: trust needs more.
	if err := btrfs.SetReadOnly(sfd, false); err != nil {
		t.Fatal(err)
	}
	if ro, _ := btrfs.ReadOnly(sfd); ro {
		t.Fatal("still read-only")
	}
	if err := btrfs.SetReadOnly(sfd, true); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.DeleteSnapshot(s1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(s1); !os.IsNotExist(err) {
		t.Fatalf("snapshot still there: %v", err)
	}
}

func TestTrust(t *testing.T) {
	mnt := fs(t)
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(vol, "etc/passwd"), "root:x:0:0")
	s := filepath.Join(mnt, "snap")
	if err := btrfs.Snapshot(vol, s, true); err != nil {
		t.Fatal(err)
	}
	i, err := btrfs.Info(s)
	if err != nil {
		t.Fatal(err)
	}
	r := btrfs.Recorded{Path: s, UUID: i.UUID.String(), OTransid: i.OTransid, CTransid: i.CTransid}
	if err := btrfs.Trust(r); err != nil {
		t.Fatalf("a fresh snapshot: %v", err)
	}
	bad := r
	bad.UUID = btrfs.UUID{1}.String()
	if err := btrfs.Trust(bad); !errors.Is(err, btrfs.ErrUntrusted) {
		t.Fatalf("another uuid: %v", err)
	}
	if err := btrfs.Trust(btrfs.Recorded{Path: vol, UUID: r.UUID}); !errors.Is(err, btrfs.ErrUntrusted) {
		t.Fatalf("the writable live subvolume: %v", err)
	}
	// Clear the flag, tamper, set it again: still caught.
	fd := open(t, s)
	if err := btrfs.SetReadOnly(fd, false); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(s, "etc/passwd"), "root::0:0")
	if err := btrfs.Syncfs(fd); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.SetReadOnly(fd, true); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Trust(r); !errors.Is(err, btrfs.ErrUntrusted) {
		t.Fatalf("a snapshot changed and set read-only again: %v", err)
	} else {
		t.Log(err)
	}
}
