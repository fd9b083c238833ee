// Package btrfs is vigil's layer over the Btrfs ioctls it builds on: what a
// subvolume is and when it last changed (GET_SUBVOL_INFO), flushing before a
// generation is read (syncfs), the tree search that finds what changed since
// a transaction in O(changes) (TREE_SEARCH_V2), inode-to-path resolution
// (INO_PATHS, INO_LOOKUP), the read-only flag of snapshots, and, through
// github.com/containerd/btrfs/v2 (cgo), creating, snapshotting and deleting
// subvolumes.
//
// On-disk items are parsed with encoding/binary (packed, little endian),
// never by casting memory. The numbers and layouts come from the kernel's
// UAPI headers linux/btrfs.h and linux/btrfs_tree.h.
//
// Builds without cgo compile and report [ErrNoCgo] for the calls that need
// it; other systems than Linux report [ErrUnsupported] for everything.
package btrfs

import "errors"

var (
	// ErrUnsupported is returned on systems without Btrfs.
	ErrUnsupported = errors.New("btrfs: not supported on this system")
	// ErrNoCgo is returned by subvolume creation, snapshots and deletion in
	// a build without cgo (github.com/containerd/btrfs/v2 needs it).
	ErrNoCgo = errors.New("btrfs: subvolume operations need a build with cgo (CGO_ENABLED=1)")
	// ErrNotBtrfs says a path does not lie on a Btrfs filesystem.
	ErrNotBtrfs = errors.New("not on a btrfs filesystem")
)
