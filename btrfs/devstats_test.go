//go:build linux

package btrfs_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/internal/fimtest"
)

func TestParseDevStats(t *testing.T) {
	b := make([]byte, 1032)
	le := binary.LittleEndian
	le.PutUint64(b[8:], 3) // an older kernel filling in three counters
	for i, v := range []uint64{1, 2, 3, 4, 5} {
		le.PutUint64(b[24+8*i:], v)
	}
	got, err := btrfs.ParseDevStats(7, b)
	want := btrfs.DevStats{DevID: 7, Write: 1, Read: 2, Flush: 3}
	if err != nil || got != want {
		t.Errorf("ParseDevStats = %+v, %v; want %+v", got, err, want)
	}
	if _, err := btrfs.ParseDevStats(7, b[:100]); err == nil {
		t.Errorf("ParseDevStats of 100 bytes: no error")
	}
}

// TestDeviceStatsCorruption reads a fresh filesystem's counters (zero),
// then damages a data block of a file in the loop image underneath and
// reads the file: Btrfs's data checksum fails the read and counts a
// corruption error.
func TestDeviceStatsCorruption(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	fd := open(t, mnt)
	st, err := btrfs.DeviceStats(fd)
	if err != nil || len(st) != 1 || st[0].DevID != 1 || st[0].Total() != 0 || st[0].Path == "" || st[0].FSID == "" {
		t.Fatalf("DeviceStats of a fresh filesystem = %+v, %v; want one device, all zero", st, err)
	}
	data := make([]byte, 64<<10)
	rand.Read(data)
	p := filepath.Join(mnt, "victim")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Syncfs(fd); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(filepath.Dir(mnt), "img")
	off := fimtest.FindBlock(t, img, data[:4096])
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 4096), off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Drop the file's cached pages, so that the read goes to the device.
	vf, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	if err := unix.Fadvise(int(vf.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(vf); !errors.Is(err, unix.EIO) {
		t.Fatalf("read of the damaged file = %v, want EIO", err)
	}
	st, err = btrfs.DeviceStats(fd)
	if err != nil || len(st) != 1 || st[0].Corruption == 0 || st[0].Write+st[0].Read+st[0].Flush+st[0].Generation != 0 {
		t.Fatalf("DeviceStats after the damage = %+v, %v; want corruption errors only", st, err)
	}
}
