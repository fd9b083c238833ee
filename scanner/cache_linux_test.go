package scanner

import (
	"slices"
	"strings"

	"vigil/merkle"
)

// MemCache is a stat cache held in memory, for tests: each directory's
// recorded entries, in name order.
type MemCache map[string][]merkle.Entry

// Children returns a chunk of dir's entries as [Cache] says.
func (m MemCache) Children(dir, after string, n int) ([]merkle.Entry, error) {
	es := m[dir]
	i := 0
	if after != "" {
		i, _ = slices.BinarySearchFunc(es, after, func(e merkle.Entry, name string) int {
			if c := strings.Compare(e.Name(), name); c != 0 {
				return c
			}
			return -1 // after the entry named after, not at it
		})
	}
	return es[i:min(i+n, len(es))], nil
}

// ListChunk is listChunk, for tests.
const ListChunk = listChunk
