package scanner

import (
	"fmt"
	"testing"

	"vigil/merkle"
)

// TestSamplerReuse: a sampler reused from file to file (its keyed hasher
// reset in between) decides as a fresh one does: the key survives Reset.
func TestSamplerReuse(t *testing.T) {
	s := &Sample{Key: [32]byte{5, 4, 3}, Check: 3, Within: 9}
	reused := newSampler(s)
	for i := range 200 {
		e := merkle.Entry{Path: fmt.Sprintf("/x/%d", i), Inode: uint64(i)}
		if got, want := reused.due(&e), newSampler(s).due(&e); got != want {
			t.Fatalf("reused sampler: due(%s) = %v, fresh sampler says %v", e.Path, got, want)
		}
	}
}
