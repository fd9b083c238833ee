package config

import (
	"maps"
	"slices"

	"vigil/merkle"
)

// decoder turns the generic map the TOML parser produced into a Config,
// recording a problem for every unknown key and every value of the wrong
// type instead of stopping at the first.
type decoder struct {
	probs []problem
	bad   []keyPath // values that could not be decoded
}

func (d *decoder) problemf(key keyPath, format string, args ...any) {
	d.probs = append(d.probs, problemf(key, format, args...))
}

// wrongType records that key has the wrong type; problems found later at or
// below key are consequences and get dropped (see isBad).
func (d *decoder) wrongType(key keyPath, v any, want string) {
	d.problemf(key, "has type %s, want %s", tomlType(v), want)
	d.bad = append(d.bad, key)
}

// isBad reports whether key lies at or below a value that had the wrong type.
func (d *decoder) isBad(key keyPath) bool {
	for _, b := range d.bad {
		if key.within(b) {
			return true
		}
	}
	return false
}

func (d *decoder) config(raw map[string]any) *Config {
	c := &Config{Database: DefaultDatabase, Keep: DefaultKeep, RereadWithin: DefaultRereadWithin,
		Btrfs: Btrfs{Snapshots: true, SnapshotDir: DefaultSnapshotDir}}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		v, key := raw[name], keyPath{}.key(name)
		switch name {
		case "database":
			d.str(key, v, &c.Database)
		case "keep":
			d.integer(key, v, &c.Keep)
		case "roots":
			c.Roots = d.strings(key, v)
		case "exclude":
			c.Exclude = d.strings(key, v)
		case "exclude_files":
			c.ExcludeFiles = d.strings(key, v)
		case "cross_filesystems":
			d.boolean(key, v, &c.CrossFilesystems)
		case "max_hash_size":
			d.size(key, v, &c.MaxHashSize)
		case "scan":
			d.scan(key, v, c)
		case "rule":
			c.Rules = d.rules(key, v)
		case "trust", "phase":
			d.sealing(key, v, c)
		case "watch":
			d.watch(key, v, c)
		case "btrfs":
			d.btrfs(key, v, c)
		case "posture":
			d.posture(key, v, c)
		case "nix":
			d.nix(key, v, c)
		case "sink":
			c.Sinks = d.sinks(key, v)
		case "fleet":
			d.fleet(key, v, c)
		default:
			d.problemf(key, "unknown key")
		}
	}
	return c
}

func (d *decoder) scan(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "hash_workers":
			d.integer(k, m[name], &c.HashWorkers)
		case "dir_workers":
			d.integer(k, m[name], &c.DirWorkers)
		case "reread_within":
			d.integer(k, m[name], &c.RereadWithin)
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// tables decodes an array of tables. An element that is not a table is a
// problem and nil in the result, so that indexes keep matching the file;
// ok is false when v is no array of tables at all.
func (d *decoder) tables(key keyPath, v any) (out []map[string]any, ok bool) {
	var elems []any
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		elems = v
	default:
		d.wrongType(key, v, "array of tables")
		return nil, false
	}
	out = make([]map[string]any, len(elems))
	for i, t := range elems {
		m, isTable := t.(map[string]any)
		if !isTable {
			d.wrongType(key.index(i), t, "table")
			continue
		}
		out[i] = m
	}
	return out, true
}

// rules decodes the array of [[rule]] tables. Elements that are not tables
// become empty rules, so that indexes keep matching the file.
func (d *decoder) rules(key keyPath, v any) []Rule {
	ts, ok := d.tables(key, v)
	if !ok {
		return nil
	}
	rules := make([]Rule, len(ts))
	for i, m := range ts {
		if m != nil {
			rules[i] = d.rule(key.index(i), m)
		}
	}
	return rules
}

func (d *decoder) rule(key keyPath, m map[string]any) Rule {
	var r Rule
	var ignore, attrs merkle.Attr
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "name":
			d.str(k, m[name], &r.Name)
		case "paths":
			r.Paths = d.strings(k, m[name])
		case "ignore":
			ignore = d.attrs(k, m[name], true)
		case "attributes":
			attrs = d.attrs(k, m[name], false)
		case "remediation":
			d.str(k, m[name], &r.Remediation.Policy)
		case "remediation_command":
			r.Remediation.Command = d.strings(k, m[name])
		case "remediation_timeout":
			d.duration(k, m[name], &r.Remediation.Timeout)
		case "flood_limit":
			d.integer(k, m[name], &r.FloodLimit)
		case "diff":
			d.boolean(k, m[name], &r.Content.Keep)
			r.Content.Set = true
		case "diff_max":
			d.size(k, m[name], &r.Content.Max)
		case "diff_private":
			d.boolean(k, m[name], &r.Content.Private)
		default:
			d.problemf(k, "unknown key")
		}
	}
	_, hasIgnore := m["ignore"]
	_, hasAttrs := m["attributes"]
	switch {
	case hasIgnore && hasAttrs:
		d.problemf(key, "has both ignore and attributes; use one of them")
	case hasIgnore:
		r.Attrs = merkle.AttrAll &^ ignore
	case hasAttrs:
		r.Attrs = attrs
	case r.Content.Set:
		return r // decides content keeping only
	default:
		d.problemf(key, "needs ignore (attributes not monitored) or attributes (the only ones monitored)")
	}
	r.Attrs |= merkle.AttrType
	return r
}

// attrs decodes a list of attribute names. Type is always monitored, so
// ignoring it by name is a mistake worth reporting.
func (d *decoder) attrs(key keyPath, v any, ignoring bool) merkle.Attr {
	var set merkle.Attr
	for i, name := range d.strings(key, v) {
		if d.isBad(key.index(i)) {
			continue
		}
		a, err := merkle.ParseAttr(name)
		switch {
		case err != nil:
			d.problemf(key.index(i), "%v", err)
		case ignoring && name == "type":
			d.problemf(key.index(i), `"type" is always monitored and cannot be ignored`)
		}
		set |= a
	}
	return set
}
