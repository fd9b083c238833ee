package scanner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDirNamesMapped: names past a chunk move to memory maps, which grow
// as names are added (several times here), keep every name and type, sort,
// and free.
func TestDirNamesMapped(t *testing.T) {
	const n = 300000 // 3.4 MB of names, 1.2 MB of offsets: both maps grow
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("n%x", uint32(i)*2654435761))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
	var names dirNames
	for i, w := range want {
		if err := names.add(uint8(len(w)), []byte(w)); err != nil {
			t.Fatalf("add(%q) of name %d: %v", w, i, err)
		}
		if got := names.mapped(); got != (i >= listChunk) {
			t.Fatalf("after %d names mapped() = %v, want %v", i+1, got, i >= listChunk)
		}
	}
	if len(names.mbuf) <= 1<<20 || len(names.moffs) <= 1<<20 {
		t.Errorf("maps of %d and %d bytes, want both grown past 1 MiB", len(names.mbuf), len(names.moffs))
	}
	names.sort()
	slices.Sort(want)
	if names.len() != n {
		t.Fatalf("len() = %d, want %d", names.len(), n)
	}
	for i, w := range want {
		if d := names.at(i); d.name != w || d.typ != uint8(len(w)) {
			t.Fatalf("at(%d) = %q, type %d; want %q, type %d", i, d.name, d.typ, w, len(w))
		}
	}
	names.free()
	if names.mapped() || names.len() != 0 {
		t.Errorf("after free: mapped() = %v, len() = %d; want false, 0", names.mapped(), names.len())
	}
}
