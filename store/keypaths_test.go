package store

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestKeyPathsAgreesWithKeyPath checks keyPaths, which copies the keys
// whole and turns their NULs into '/' after, against keyPath of each key.
func TestKeyPathsAgreesWithKeyPath(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 5))
	names := []string{"a", "usr", "share", "x\xff", "doc", "ünï", "-", "file.txt"}
	for round := range 200 {
		var kvs [][2][]byte
		var want strings.Builder
		for range r.IntN(70) {
			p := ""
			for range 1 + r.IntN(6) {
				p += "/" + names[r.IntN(len(names))]
			}
			if r.IntN(10) == 0 {
				p = "/"
			}
			k := appendKey(nil, p)
			kvs = append(kvs, [2][]byte{k, nil})
			want.WriteString(keyPath(k))
		}
		if got := keyPaths(kvs); got != want.String() {
			t.Fatalf("round %d: keyPaths(%d keys) = %q, want %q", round, len(kvs), got, want.String())
		}
	}
}

// BenchmarkKeyPaths converts the keys of one Iter slab (64 records of a
// /usr-like tree) to paths, as keyPaths does and as writing them a name at
// a time did.
func BenchmarkKeyPaths(b *testing.B) {
	var kvs [][2][]byte
	for i := range iterSlab {
		k := appendKey(nil, fmt.Sprintf("/usr/share/locale/de/LC_MESSAGES/d%02d/file-%05d.mo", i/16, i))
		kvs = append(kvs, [2][]byte{k, nil})
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = keyPaths(kvs)
		}
	})
	b.Run("by-name", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s strings.Builder
			s.Grow(len(kvs) * len(kvs[0][0]))
			for _, kv := range kvs {
				writeKeyPath(&s, kv[0])
			}
			_ = s.String()
		}
	})
}
