package daemon

import (
	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/store"
)

// DeviceAlerts returns what is to be reported of each Btrfs device under
// paths (none: the baseline's roots) whose error counters are not those
// recorded with the baseline info: counters that rose or were reset, or a
// device gone from the filesystem.
func DeviceAlerts(info store.Info, paths []string) ([]alerts.Device, error) {
	fs, err := engine.DeviceFindings(info, paths)
	if err != nil {
		return nil, err
	}
	out := make([]alerts.Device, 0, len(fs))
	for _, f := range fs {
		d := alerts.Device{FSID: f.Current.FSID, DevID: f.Current.DevID, Device: f.Current.Device, Changed: f.Changed,
			Current: counters(f.Current), Reset: f.Reset, Missing: f.Missing}
		if f.Missing {
			d.FSID, d.DevID, d.Device, d.Current = f.Recorded.FSID, f.Recorded.DevID, f.Recorded.Device, nil
		}
		if f.HasRecord {
			d.Recorded = counters(f.Recorded)
		}
		out = append(out, d)
	}
	return out, nil
}

func counters(s store.DevStats) map[string]uint64 {
	return map[string]uint64{"write_errs": s.WriteErrs, "read_errs": s.ReadErrs, "flush_errs": s.FlushErrs,
		"corruption_errs": s.CorruptionErrs, "generation_errs": s.GenerationErrs}
}
