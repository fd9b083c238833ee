package config

import (
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// DefaultPostureInterval is how often the watch daemon collects the
// posture when [Posture.Interval] is 0.
const DefaultPostureInterval = 15 * time.Minute

// Posture is the [posture] table: the security state recorded with the
// files (see internal/posture).
type Posture struct {
	// Enable records the posture with every whole baseline and compares
	// it in every whole check.
	Enable bool
	// Profile names the profile `vigil posture` checks against by
	// default and whose severities check gives posture changes; "" means
	// "server".
	Profile string
	// Interval (posture_interval in the daemon's terms) is how often the
	// watch daemon collects and compares the posture; 0 means
	// [DefaultPostureInterval].
	Interval time.Duration
	// ExtraSysctls are recorded besides the default list.
	ExtraSysctls []string
	// Mounts replace the default mount points whose options are recorded.
	Mounts []string
	// Units are unit files analysed offline by systemd-analyze security.
	Units []string
	// ProfileFile is a profile file (the format of the embedded one) whose
	// checks extend or replace the embedded ones; "" means none.
	ProfileFile string
	// Disable names collectors not to run.
	Disable []string
	// Lynis runs lynis (minutes) with every posture collection and records
	// its hardening index and warnings.
	Lynis bool
	// MaxExposure, if positive, replaces the profiles' highest accepted
	// systemd exposure score.
	MaxExposure float64
}

// PostureProfile returns the posture profile, or the default.
func (c *Config) PostureProfile() string {
	if c.Posture.Profile == "" {
		return "server"
	}
	return c.Posture.Profile
}

// posture decodes the [posture] table.
func (d *decoder) posture(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	p := &c.Posture
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "enable":
			d.boolean(k, m[name], &p.Enable)
		case "profile":
			d.str(k, m[name], &p.Profile)
		case "interval":
			d.duration(k, m[name], &p.Interval)
		case "extra_sysctls":
			p.ExtraSysctls = d.strings(k, m[name])
		case "mounts":
			p.Mounts = d.strings(k, m[name])
		case "units":
			p.Units = d.strings(k, m[name])
		case "profile_file":
			d.str(k, m[name], &p.ProfileFile)
		case "disable":
			p.Disable = d.strings(k, m[name])
		case "lynis":
			d.boolean(k, m[name], &p.Lynis)
		case "max_exposure":
			switch x := m[name].(type) {
			case float64:
				p.MaxExposure = x
			case int64:
				p.MaxExposure = float64(x)
			default:
				d.wrongType(k, x, "number")
			}
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// postureProblems checks the [posture] values.
func (c *Config) postureProblems() []problem {
	var ps []problem
	p := c.Posture
	for i, path := range slices.Concat(p.Mounts, p.Units) {
		key := keyPath{"posture", "mounts"}.index(i)
		if i >= len(p.Mounts) {
			key = keyPath{"posture", "units"}.index(i - len(p.Mounts))
		}
		if !filepath.IsAbs(path) || filepath.Clean(path) != path {
			ps = append(ps, problemf(key, "%q: want a clean absolute path", path))
		}
	}
	if p.ProfileFile != "" && !filepath.IsAbs(p.ProfileFile) {
		ps = append(ps, problemf(keyPath{"posture", "profile_file"}, "%q: want an absolute path", p.ProfileFile))
	}
	if p.MaxExposure < 0 || p.MaxExposure > 10 {
		ps = append(ps, problemf(keyPath{"posture", "max_exposure"}, "must be 0 (the profile's) to 10, got %g", p.MaxExposure))
	}
	return ps
}
