//go:build linux && cgo

package btrfs

import (
	"fmt"

	cbtrfs "github.com/containerd/btrfs/v2"
)

// Snapshot takes a snapshot of the subvolume whose top directory is src at
// dst (which must not exist), read-only if readonly.
func Snapshot(src, dst string, readonly bool) error {
	if err := cbtrfs.SubvolSnapshot(dst, src, readonly); err != nil {
		return fmt.Errorf("snapshot %s at %s: %w", src, dst, err)
	}
	return nil
}

// Create creates an empty subvolume at path.
func Create(path string) error {
	if err := cbtrfs.SubvolCreate(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
