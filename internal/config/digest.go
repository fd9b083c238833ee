package config

import (
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/zeebo/blake3"

	"vigil/merkle"
)

// digestTag starts the encoding Digest hashes; the version changes whenever
// the encoding does (v2: only what changes what a baseline means).
const digestTag = "vigil-config-v2\x00"

// Digest returns the hex BLAKE3-256 of a canonical encoding of what the
// configuration says about what a baseline holds: roots, excludes (both
// kinds), cross_filesystems, max_hash_size and the rules' paths and
// attributes, with roots, excludes and each rule's paths sorted (their
// order does not matter) and rule attributes including [merkle.AttrType].
// Where the database lives, how many baselines are kept, worker counts,
// the sample's size, trust and phase settings and rule names do not change
// what is monitored and are left out, as are Source, comments, layout, key
// order, omitted keys versus their defaults and spellings of the same size
// ("1KiB", 1024). The order of rules counts: the last matching rule wins.
func (c *Config) Digest() string {
	b := []byte(digestTag)
	b = appendStrings(b, c.Roots)
	b = appendStrings(b, c.Exclude)
	b = append(b, boolByte(c.CrossFilesystems))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.MaxHashSize))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(c.Rules)-contentOnly(c.Rules)))
	for _, r := range c.Rules {
		if r.Attrs == 0 {
			continue // diff keys only: what is kept for diffs, not what is monitored
		}
		b = appendStrings(b, r.Paths)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Attrs|merkle.AttrType))
	}
	// Keys added since v1 follow, each tagged and only when it differs from
	// its default, so that the digests of configurations without them stay
	// what they were.
	if len(c.ExcludeFiles) > 0 {
		b = appendString(b, "exclude_files")
		b = appendStrings(b, c.ExcludeFiles)
	}
	sum := blake3.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// contentOnly counts the rules with only diff keys.
func contentOnly(rules []Rule) int {
	n := 0
	for _, r := range rules {
		if r.Attrs == 0 {
			n++
		}
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendStrings appends a sorted copy of list, prefixed with its length.
func appendStrings(b []byte, list []string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(list)))
	for _, s := range slices.Sorted(slices.Values(list)) {
		b = appendString(b, s)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
