package posture

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/zeebo/blake3"

	"vigil/merkle"
)

// Item is one posture entry: a key "collector:name" and its value.
type Item struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// unavailablePrefix starts the key of the item recording a collector that
// could not run ("unavailable:nft", value: why).
const unavailablePrefix = "unavailable:"

// Collector returns the collector part of key ("sysctl" of
// "sysctl:kernel.kptr_restrict").
func CollectorOf(key string) string {
	c, _, _ := strings.Cut(key, ":")
	return c
}

// Unavailable returns the collectors the items record as unavailable, and
// why.
func Unavailable(items []Item) map[string]string {
	m := map[string]string{}
	for _, it := range items {
		if c, ok := strings.CutPrefix(it.Key, unavailablePrefix); ok {
			m[c] = it.Value
		}
	}
	return m
}

// Sort sorts items by key, the order [Root] hashes them in.
func Sort(items []Item) {
	slices.SortFunc(items, func(a, b Item) int { return cmp.Compare(LeafName(a.Key), LeafName(b.Key)) })
}

// LeafName is the name of key's leaf in the posture tree: '%' and '/'
// percent-encoded, so that every key is one path element.
func LeafName(key string) string {
	if !strings.ContainsAny(key, "%/") {
		return key
	}
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(key)
}

// Entry returns the merkle entry of one item: a file named [LeafName] of
// its key below "/", whose content hash is BLAKE3 over the value.
func Entry(it Item) *merkle.Entry {
	return &merkle.Entry{
		Path: "/" + LeafName(it.Key), Type: merkle.TypeFile, Size: int64(len(it.Value)),
		Hash: blake3.Sum256([]byte(it.Value)), HashState: merkle.HashOK, Attrs: merkle.AttrContent | merkle.AttrSize,
	}
}

// Root returns the root hash of the posture tree of items, which must be
// sorted ([Sort]) with unique keys: the tree's root directory "/" holds one
// leaf per item ([Entry]).
func Root(items []Item) (merkle.Hash, error) {
	b := merkle.NewBuilder(nil)
	if err := b.Add(&merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType}); err != nil {
		return merkle.Hash{}, err
	}
	for _, it := range items {
		if err := b.Add(Entry(it)); err != nil {
			return merkle.Hash{}, err
		}
	}
	return b.Finish()
}

// Action is what happened to one item between two states.
type Action string

// Actions.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
)

// Change is one item that differs between two states.
type Change struct {
	Key    string `json:"key"`
	Action Action `json:"action"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	// Severity is the severity of the profile's check for the key
	// (info, warning, alert, critical).
	Severity string `json:"severity"`
}

// Compare returns the items that differ from old to cur, in key order,
// leaving out the collectors that either side records as unavailable.
// Severities come from checks (nil: the defaults of [DefaultSeverity]).
func Compare(old, cur []Item, checks []Check) []Change {
	skip := Unavailable(old)
	for c, why := range Unavailable(cur) {
		skip[c] = why
	}
	om, cm := byKey(old, skip), byKey(cur, skip)
	var out []Change
	for k, ov := range om {
		cv, ok := cm[k]
		switch {
		case !ok:
			out = append(out, Change{Key: k, Action: Removed, Old: ov})
		case cv != ov:
			out = append(out, Change{Key: k, Action: Changed, Old: ov, New: cv})
		}
	}
	for k, cv := range cm {
		if _, ok := om[k]; !ok {
			out = append(out, Change{Key: k, Action: Added, New: cv})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Key, b.Key) })
	for i := range out {
		out[i].Severity = severity(out[i], checks)
	}
	return out
}

func byKey(items []Item, skip map[string]string) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		if strings.HasPrefix(it.Key, unavailablePrefix) {
			continue
		}
		if _, ok := skip[CollectorOf(it.Key)]; ok {
			continue
		}
		m[it.Key] = it.Value
	}
	return m
}

// DefaultSeverity is the severity of a change to a key no check names:
// a new listening socket, a module loaded, a lower security mode are
// alerts; the rest are warnings.
func DefaultSeverity(key string) string {
	switch CollectorOf(key) {
	case "socket", "module", "lsm", "selinux", "apparmor", "lockdown", "accounts", "kernel":
		return "alert"
	}
	return "warning"
}

// severity is c's severity: that of the first check matching its key, or
// the default; a systemd exposure score that falls, or a lynis hardening
// index that rises, is informational.
func severity(c Change, checks []Check) string {
	if c.Action == Changed && (strings.HasSuffix(c.Key, ":exposure") || c.Key == "lynis:hardening_index") {
		o, err1 := strconv.ParseFloat(c.Old, 64)
		n, err2 := strconv.ParseFloat(c.New, 64)
		better := n <= o // a lower exposure
		if c.Key == "lynis:hardening_index" {
			better = n >= o // a higher index
		}
		if err1 == nil && err2 == nil && better {
			return "info"
		}
	}
	for _, ck := range checks {
		if ck.matches(c.Key) && ck.Severity != "" {
			return ck.Severity
		}
	}
	return DefaultSeverity(c.Key)
}
