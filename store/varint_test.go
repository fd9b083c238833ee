package store

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUvarints checks decoder.uvarints against the calls of
// decoder.uvarint it stands for: the same values, the same bytes left and
// the same error, for well-formed varints of every length, for truncated,
// overlong and overflowing ones, and after an earlier error.
func TestUvarints(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for range 3000 {
		var b []byte
		for range r.IntN(16) {
			switch r.IntN(6) {
			case 0:
				b = append(b, byte(r.IntN(0x80))) // one byte
			case 1:
				b = binary.AppendUvarint(b, r.Uint64()>>r.IntN(64))
			case 2:
				b = append(b, 0x80|byte(r.IntN(0x80))) // a continuation: truncated if last
			case 3:
				b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(r.IntN(4))) // overflow at 2, 3
			case 4:
				b = append(b, 0x80, 0x80, 0x00) // overlong zero: accepted, as binary.Uvarint does
			default:
				b = append(b, byte(r.IntN(256)))
			}
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		for _, failed := range []bool{false, true} {
			want := decoder{b: slices.Clone(in)}
			got := decoder{b: slices.Clone(in)}
			if failed {
				want.fail("before")
				got.fail("before")
			}
			var wv, gv [13]uint64
			for i := range wv {
				wv[i] = want.uvarint("field")
			}
			gv[0] = 12345 // overwritten whatever happens
			got.uvarints(gv[:], "field")
			if wv != gv || string(want.b) != string(got.b) || (want.err == nil) != (got.err == nil) ||
				(want.err != nil && want.err.Error() != got.err.Error()) {
				t.Fatalf("input %x (failed before: %v):\nuvarint:  %v, left %x, %v\nuvarints: %v, left %x, %v",
					in, failed, wv, want.b, want.err, gv, got.b, got.err)
			}
		}
	}
}
