package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units ParseSize accepts, compared case-insensitively.
// Decimal units are powers of 1000, binary ones powers of 1024.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"", 1}, {"b", 1},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"pb", 1e15},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"pib", 1 << 50},
}

// ParseSize parses a byte count: a non-negative decimal integer, optionally
// followed (with or without one space) by a unit: B, kB, MB, GB, TB, PB
// (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024), in any case.
// Single-letter units like "G" are refused as ambiguous.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		if strings.HasPrefix(t, "-") {
			return 0, fmt.Errorf("size %q is negative", s)
		}
		return 0, fmt.Errorf("size %q does not start with a number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	unit := strings.ToLower(strings.TrimPrefix(t[i:], " "))
	for _, u := range sizeUnits {
		if u.name == unit {
			if n > math.MaxInt64/u.mult {
				return 0, fmt.Errorf("size %q is too large", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("size %q has unknown unit %q (want B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)", s, t[i:])
}
