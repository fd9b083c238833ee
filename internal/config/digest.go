package config

import (
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/zeebo/blake3"

	"vigil/merkle"
)

// digestTag starts the encoding Digest hashes; the version changes whenever
// the encoding does.
const digestTag = "vigil-config-v1\x00"

// Digest returns the hex BLAKE3-256 of a canonical encoding of the effective
// configuration: every field except Source, with roots, excludes (both
// kinds) and each
// rule's paths sorted (their order does not matter) and rule attributes
// including [merkle.AttrType]. Comments, layout, key order, omitted keys
// versus their defaults and spellings of the same size ("1KiB", 1024) do not
// change it; the order of rules does.
func (c *Config) Digest() string {
	b := []byte(digestTag)
	b = appendString(b, c.Database)
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Keep))
	b = appendStrings(b, c.Roots)
	b = appendStrings(b, c.Exclude)
	b = append(b, boolByte(c.CrossFilesystems))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.MaxHashSize))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.HashWorkers))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.DirWorkers))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(c.Rules)))
	for _, r := range c.Rules {
		b = appendString(b, r.Name)
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
	if c.RereadWithin != DefaultRereadWithin {
		b = appendString(b, "reread_within")
		b = binary.LittleEndian.AppendUint64(b, uint64(c.RereadWithin))
	}
	sum := blake3.Sum256(b)
	return hex.EncodeToString(sum[:])
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
