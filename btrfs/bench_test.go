package btrfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"vigil/btrfs"
)

// BenchmarkCheckCalls measures the calls a Btrfs check makes for a
// subvolume of 20,000 files with 10 changed: syncfs, subvolume info, and
// the search of what changed since a snapshot with the changed inodes'
// paths.
func BenchmarkCheckCalls(b *testing.B) {
	mnt := fs(b)
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		b.Fatal(err)
	}
	for i := range 20000 {
		write(b, filepath.Join(vol, fmt.Sprintf("d%03d/f%05d", i/100, i)), fmt.Sprint(i))
	}
	snap := filepath.Join(mnt, "snap")
	if err := btrfs.Snapshot(vol, snap, true); err != nil {
		b.Fatal(err)
	}
	si, err := btrfs.Info(snap)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		write(b, filepath.Join(vol, fmt.Sprintf("d%03d/f%05d", i*17, i*1700)), "changed")
	}
	fd := open(b, vol)
	b.Run("syncfs", func(b *testing.B) {
		for b.Loop() {
			if err := btrfs.Syncfs(fd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("subvol-info", func(b *testing.B) {
		for b.Loop() {
			if _, err := btrfs.GetSubvolInfo(fd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search+paths", func(b *testing.B) {
		for b.Loop() {
			n := 0
			err := btrfs.ChangedInodes(fd, 0, si.OTransid, func(in btrfs.Inode) error {
				n++
				_, err := btrfs.InoPaths(fd, in.Ino)
				return err
			})
			if err != nil || n < 10 {
				b.Fatalf("%d changed, %v", n, err)
			}
		}
	})
	b.Run("trust", func(b *testing.B) {
		r := btrfs.Recorded{Path: snap, UUID: si.UUID.String(), OTransid: si.OTransid, CTransid: si.CTransid}
		for b.Loop() {
			if err := btrfs.Trust(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	_ = os.Remove
}
