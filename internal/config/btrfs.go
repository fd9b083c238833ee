package config

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultSnapshotDir is where, below the top of each Btrfs subvolume that
// holds a root, the trusted read-only snapshots are kept.
const DefaultSnapshotDir = ".vigil-snapshots"

// Btrfs is the [btrfs] table.
type Btrfs struct {
	// Snapshots, on by default, makes init, seal and update take a
	// read-only snapshot of each Btrfs subvolume holding a root and record
	// it with the baseline: the lower bound of the fast check and the
	// trusted source of restores.
	Snapshots bool
	// SnapshotDir is the directory, root-owned and 0700, that holds them:
	// relative to the subvolume's top (the default, [DefaultSnapshotDir]),
	// or absolute (on the same Btrfs filesystem). It is never scanned.
	SnapshotDir string
}

// Dir returns SnapshotDir, or the default where it is empty.
func (b Btrfs) Dir() string {
	if b.SnapshotDir == "" {
		return DefaultSnapshotDir
	}
	return b.SnapshotDir
}

// btrfs decodes the [btrfs] table.
func (d *decoder) btrfs(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "snapshots":
			d.boolean(k, m[name], &c.Btrfs.Snapshots)
		case "snapshot_dir":
			d.str(k, m[name], &c.Btrfs.SnapshotDir)
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// btrfsProblems checks the [btrfs] values.
func (c *Config) btrfsProblems() []problem {
	s := c.Btrfs.SnapshotDir
	switch {
	case s == "":
		return nil // the default
	case filepath.Clean(s) != s || (!filepath.IsAbs(s) && (s == "." || strings.HasPrefix(s, ".."+string(filepath.Separator)) || s == "..")):
		return []problem{problemf(keyPath{"btrfs", "snapshot_dir"}, "%q: want a clean absolute path, or a clean path below the subvolume's top", s)}
	}
	return nil
}
