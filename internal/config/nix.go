package config

import (
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// DefaultNixSnapshot is where `vigil nix snapshot` writes the Nix store's
// snapshot: under /etc, a monitored root, so that the baseline attests it
// and a seal signs it like any other file.
const DefaultNixSnapshot = "/etc/vigil/nix-store.json"

// DefaultNixInterval is how often the watch daemon checks the Nix store
// when [Nix.Interval] is 0: as often as the posture.
const DefaultNixInterval = DefaultPostureInterval

// Nix is the [nix] table: the Nix store verified against the Nix database.
type Nix struct {
	// Enabled: nil (the key left out) means on when the Nix database
	// exists (/nix/var/nix/db/db.sqlite under Root); false turns the
	// checks off; true makes a missing database an error.
	Enabled *bool
	// Snapshot is the file holding the sealed store's records and system
	// closure ([DefaultNixSnapshot] when empty). It must lie in a
	// monitored root: its state in the baseline is what makes it trusted.
	Snapshot string
	// Root is the directory the store's absolute paths (/nix, /run) are
	// under: "/" (the default) on a host.
	Root string
	// Interval is how often the watch daemon checks the store (it also
	// does when the system profile or /run/current-system moves); 0 means
	// [DefaultNixInterval].
	Interval time.Duration
}

// SnapshotPath returns Snapshot or its default.
func (n Nix) SnapshotPath() string {
	if n.Snapshot == "" {
		return DefaultNixSnapshot
	}
	return n.Snapshot
}

// RootDir returns Root or "/".
func (n Nix) RootDir() string {
	if n.Root == "" {
		return "/"
	}
	return n.Root
}

// nix decodes the [nix] table.
func (d *decoder) nix(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "enabled":
			var b bool
			if d.boolean(k, m[name], &b); !d.isBad(k) {
				c.Nix.Enabled = &b
			}
		case "snapshot":
			d.str(k, m[name], &c.Nix.Snapshot)
		case "root":
			d.str(k, m[name], &c.Nix.Root)
		case "interval":
			d.duration(k, m[name], &c.Nix.Interval)
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// nixProblems checks the [nix] values: paths absolute and clean.
func (c *Config) nixProblems() []problem {
	var ps []problem
	if c.Nix.Interval < 0 {
		ps = append(ps, problemf(keyPath{"nix", "interval"}, "%v: want a positive duration", c.Nix.Interval))
	}
	for _, kv := range [][2]string{{"snapshot", c.Nix.Snapshot}, {"root", c.Nix.Root}} {
		if s := kv[1]; s != "" && (!filepath.IsAbs(s) || filepath.Clean(s) != s) {
			ps = append(ps, problemf(keyPath{"nix", kv[0]}, "%q: want a clean absolute path", s))
		}
	}
	return ps
}
