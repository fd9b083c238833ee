package btrfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"vigil/internal/fsys"
)

// DefaultQuarantine is the quarantine directory, relative to the live
// subvolume's top, when [RestoreOptions.Quarantine] is empty.
const DefaultQuarantine = ".vigil-quarantine"

// Inode flags set last, after the rename, and cleared on a target first
// (linux/fs.h FS_IMMUTABLE_FL, FS_APPEND_FL).
const lockFlags = 0x10 | 0x20

// RestoreOptions configure [Restore].
type RestoreOptions struct {
	// Quarantine is the directory, relative to the live subvolume's top,
	// that tampered inodes are moved to (created root-only, 0700, if
	// missing). It must lie in the same subvolume: a rename across
	// subvolumes fails with EXDEV. Empty means [DefaultQuarantine].
	Quarantine string
	// Now stamps quarantined names; nil means time.Now.
	Now func() time.Time
	// FS makes the calls that open, write, sync and rename on the host;
	// the zero value makes the real ones. Tests fail chosen calls through
	// its Injector.
	FS fsys.FS
}

// Restored says what [Restore] did for one path.
type Restored struct {
	// Rel is the path restored, relative to both tops.
	Rel string
	// Type is the file type put back: "file", "dir", "symlink", "fifo",
	// "char_device" or "block_device".
	Type string
	// Quarantined is where the inode that was at the path went, relative
	// to the live top; empty when the path was gone, or for a directory
	// repaired in place.
	Quarantined string
	// Cloned says the content was reflinked (FICLONE): its extents are
	// shared with the snapshot; false means it was copied.
	Cloned bool
	// InPlace says an existing directory was repaired where it is (owner,
	// mode, xattrs, flags) rather than replaced.
	InPlace bool
}

// ErrSocket says a socket cannot be restored: it is made by the program
// that listens on it.
var ErrSocket = errors.New("a socket cannot be restored")

// QuarantineName is the name a tampered inode from rel gets in the
// quarantine directory at t: the time (UTC, to the nanosecond) and the
// path, escaped so that it is one file name ("%2F" for "/"); a path too long
// for a name keeps its end.
func QuarantineName(t time.Time, rel string) string {
	name := t.UTC().Format("20060102T150405.000000000Z") + "_" + url.PathEscape(strings.TrimPrefix(rel, "/"))
	if len(name) > 255 {
		name = name[:27] + "..." + name[len(name)-225:]
	}
	return name
}

// DevStats are one device's error counters (BTRFS_IOC_GET_DEV_STATS), as
// the kernel keeps them on disk across mounts until they are reset
// (`btrfs device stats -z`).
type DevStats struct {
	// FSID is the filesystem's UUID, DevID the device's number in it and
	// Path the device node the kernel names.
	FSID  string
	DevID uint64
	Path  string
	// Write, Read and Flush count I/O errors from the layers below;
	// Corruption counts blocks whose checksum, bytenr or contents were
	// wrong; Generation blocks found older than expected (not written).
	Write, Read, Flush, Corruption, Generation uint64
}

// Total is the sum of the counters.
func (d DevStats) Total() uint64 { return d.Write + d.Read + d.Flush + d.Corruption + d.Generation }

// ParseDevStats decodes a struct btrfs_ioctl_get_dev_stats of device id:
// the counters the kernel filled in (nr_items), the others zero.
func ParseDevStats(id uint64, b []byte) (DevStats, error) {
	if len(b) < 1032 {
		return DevStats{}, fmt.Errorf("GET_DEV_STATS: %d bytes, want 1032", len(b))
	}
	le := binary.LittleEndian
	n := le.Uint64(b[8:])
	var v [5]uint64
	for i := range min(n, 5) {
		v[i] = le.Uint64(b[24+8*i:])
	}
	return DevStats{DevID: id, Write: v[0], Read: v[1], Flush: v[2], Corruption: v[3], Generation: v[4]}, nil
}
