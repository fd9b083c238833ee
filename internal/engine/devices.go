package engine

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"vigil/btrfs"
	"vigil/store"
)

// DeviceFinding is a Btrfs device whose error counters are not what the
// baseline recorded: an integrity finding, since Btrfs checksums every
// block and counts what failed.
type DeviceFinding struct {
	// Recorded is the baseline's record of the device (zero, with
	// HasRecord false, when it has none: a device added since, or a
	// baseline taken before counters were recorded), Current what the
	// kernel counts now.
	Recorded, Current store.DevStats
	HasRecord         bool
	// Changed names the counters that differ ("corruption_errs", ...).
	Changed []string
	// Reset says a counter went down: the counters were reset since the
	// baseline (btrfs device stats -z), which erases what they counted.
	Reset bool
	// Missing says the recorded device is no longer part of the
	// filesystem.
	Missing bool
}

// DeviceStats reads the error counters of every device of the Btrfs
// filesystems holding roots; roots that do not exist or are not on Btrfs
// are skipped. It needs no privilege.
func DeviceStats(roots []string) ([]store.DevStats, error) {
	var out []store.DevStats
	seen := map[string]bool{}
	for _, r := range roots {
		ok, err := btrfs.Is(r)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !ok {
			continue
		}
		if err != nil {
			return nil, err
		}
		fd, err := unix.Open(r, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
				continue // a file root: its directory's filesystem is another root's
			}
			return nil, &os.PathError{Op: "open", Path: r, Err: err}
		}
		st, err := btrfs.DeviceStats(fd)
		unix.Close(fd)
		if err != nil {
			return nil, &os.PathError{Op: "device stats", Path: r, Err: err}
		}
		if len(st) == 0 || seen[st[0].FSID] {
			continue // another root on the same filesystem
		}
		seen[st[0].FSID] = true
		for _, d := range st {
			out = append(out, store.DevStats{
				FSID: d.FSID, DevID: d.DevID, Device: d.Path,
				WriteErrs: d.Write, ReadErrs: d.Read, FlushErrs: d.Flush,
				CorruptionErrs: d.Corruption, GenerationErrs: d.Generation,
			})
		}
	}
	return out, nil
}

// DeviceFindings compares the error counters of the Btrfs devices holding
// roots (nil: the baseline's roots) with those the baseline recorded. A
// device the baseline has no record of is compared with zero counters.
func DeviceFindings(info store.Info, roots []string) ([]DeviceFinding, error) {
	if roots == nil {
		roots = info.Roots
	}
	cur, err := DeviceStats(roots)
	if err != nil {
		return nil, err
	}
	return compareDevStats(info.DevStats, cur), nil
}

type devKey struct {
	fsid string
	id   uint64
}

// compareDevStats returns the devices of cur whose counters differ from
// rec's, and rec's devices missing from a filesystem cur holds.
func compareDevStats(rec, cur []store.DevStats) []DeviceFinding {
	old := map[devKey]store.DevStats{}
	for _, d := range rec {
		old[devKey{d.FSID, d.DevID}] = d
	}
	var out []DeviceFinding
	fsids := map[string]bool{}
	seen := map[devKey]bool{}
	for _, c := range cur {
		k := devKey{c.FSID, c.DevID}
		fsids[c.FSID], seen[k] = true, true
		r, has := old[k]
		f := DeviceFinding{Recorded: r, Current: c, HasRecord: has}
		for _, n := range []struct {
			name     string
			old, cur uint64
		}{
			{"write_errs", r.WriteErrs, c.WriteErrs}, {"read_errs", r.ReadErrs, c.ReadErrs},
			{"flush_errs", r.FlushErrs, c.FlushErrs}, {"corruption_errs", r.CorruptionErrs, c.CorruptionErrs},
			{"generation_errs", r.GenerationErrs, c.GenerationErrs},
		} {
			if n.old != n.cur {
				f.Changed = append(f.Changed, n.name)
				f.Reset = f.Reset || n.cur < n.old
			}
		}
		if len(f.Changed) > 0 {
			out = append(out, f)
		}
	}
	for _, r := range rec {
		if k := (devKey{r.FSID, r.DevID}); fsids[r.FSID] && !seen[k] {
			out = append(out, DeviceFinding{Recorded: r, HasRecord: true, Missing: true})
		}
	}
	return out
}
