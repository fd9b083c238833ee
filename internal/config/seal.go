package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sealing decodes the [trust] and [phase] tables.
func (d *decoder) sealing(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	table := key.String()
	for _, name := range slices.Sorted(maps.Keys(m)) {
		k := key.key(name)
		switch table + "." + name {
		case "trust.pubkey":
			d.str(k, m[name], &c.Trust.Pubkey)
		case "trust.checkpoint":
			d.str(k, m[name], &c.Trust.Checkpoint)
		case "phase.hardened_markers":
			c.Phase.HardenedMarkers = d.strings(k, m[name])
		case "phase.setup_max_age":
			var s string
			d.str(k, m[name], &s)
			if s != "" {
				age, err := ParseAge(s)
				if err != nil {
					d.problemf(k, "%v", err)
					d.bad = append(d.bad, k)
				}
				c.Phase.SetupMaxAge = age
			}
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// ParseAge parses a duration as time.ParseDuration does, and also whole
// days ("14d").
func ParseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days such as \"14d\", or a duration such as \"36h\"", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a number of days such as \"14d\", or a duration such as \"36h\"", s)
	}
	return d, nil
}

// sealingProblems checks the [trust] and [phase] values.
func (c *Config) sealingProblems() []problem {
	var out []problem
	for _, f := range []struct {
		key  keyPath
		path string
	}{{keyPath{"trust", "pubkey"}, c.Trust.Pubkey}, {keyPath{"trust", "checkpoint"}, c.Trust.Checkpoint}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			out = append(out, problemf(f.key, "%q is not an absolute path", f.path))
		}
	}
	for i, p := range c.Phase.HardenedMarkers {
		if !filepath.IsAbs(p) {
			out = append(out, problemf(keyPath{"phase", "hardened_markers"}.index(i), "%q is not an absolute path", p))
		}
	}
	return out
}
