package config

import (
	"math"
	"time"
)

// The decoder's helpers for single values. Each records a problem and leaves
// *dst alone when v has the wrong type.

func (d *decoder) str(key keyPath, v any, dst *string) {
	s, ok := v.(string)
	if !ok {
		d.wrongType(key, v, "string")
		return
	}
	*dst = s
}

func (d *decoder) boolean(key keyPath, v any, dst *bool) {
	b, ok := v.(bool)
	if !ok {
		d.wrongType(key, v, "boolean")
		return
	}
	*dst = b
}

func (d *decoder) integer(key keyPath, v any, dst *int) {
	n, ok := v.(int64)
	if !ok {
		d.wrongType(key, v, "integer")
		return
	}
	if n < math.MinInt || n > math.MaxInt {
		d.problemf(key, "%d is out of range", n)
		d.bad = append(d.bad, key)
		return
	}
	*dst = int(n)
}

// size decodes a byte count given as an integer or as a string such as
// "512MiB" (see [ParseSize]). Negative integers are left to validation.
func (d *decoder) size(key keyPath, v any, dst *int64) {
	switch v := v.(type) {
	case int64:
		*dst = v
	case string:
		n, err := ParseSize(v)
		if err != nil {
			d.problemf(key, "%v", err)
			d.bad = append(d.bad, key)
			return
		}
		*dst = n
	default:
		d.wrongType(key, v, "integer or string")
	}
}

// strings decodes an array of strings. An element of another type is
// reported and kept as "" so that the indexes of the others stay right;
// problems with it are suppressed (see [decoder.isBad]).
func (d *decoder) strings(key keyPath, v any) []string {
	list, ok := v.([]any)
	if !ok {
		d.wrongType(key, v, "array of strings")
		return nil
	}
	out := make([]string, len(list))
	for i, el := range list {
		s, ok := el.(string)
		if !ok {
			d.wrongType(key.index(i), el, "string")
			continue
		}
		out[i] = s
	}
	return out
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "datetime"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return "unknown"
}
