package scanner

import (
	"math/bits"

	"lukechampine.com/blake3/guts"
)

// BLAKE3's tree, for hashing the subtrees of one large file on several
// cores. BLAKE3 splits its input into 1 KiB chunks, the leaves of a binary
// tree whose left subtrees are complete: a subtree of 2^h chunks starting
// at a multiple of 2^h chunks has a chaining value (CV) that depends only
// on its bytes and its position, so such subtrees can be hashed apart and
// their CVs merged in order, exactly as a serial hasher merges them. The
// last chunk is kept apart: it is compressed with the root flag when it is
// the only one, and the parents above it carry that flag otherwise.
//
// github.com/zeebo/blake3, which hashes everything else, exports no CVs;
// lukechampine.com/blake3/guts exports the compression function and the
// node layout, and nothing more is used of it here.

const (
	chunkLen = guts.ChunkSize                // 1 KiB, a leaf of the tree
	groupLen = guts.MaxSIMD * guts.ChunkSize // 16 KiB, compressed in one SIMD call
	groupH   = 4                             // log2 of the chunks in a group
)

// treeStack merges aligned subtrees pushed in order, as a serial BLAKE3
// hasher does: at most one CV per height, n counting the chunks pushed.
type treeStack struct {
	cvs  [64][8]uint32
	n    uint64
	base uint64 // where the subtrees start in the whole input, in chunks
}

// push adds the CV of the subtree of 2^h chunks that starts at chunk s.n
// (which must be a multiple of 2^h), merging it with the left siblings
// already pushed.
func (s *treeStack) push(cv [8]uint32, h int) {
	i := h
	for ; s.n&(1<<i) != 0; i++ {
		cv = guts.ChainingValue(guts.ParentNode(s.cvs[i], cv, &guts.IV, 0))
	}
	s.cvs[i] = cv
	s.n += 1 << h
}

// pushTo pushes what s holds into t, highest subtree first: s's subtrees
// then follow t's in the input. t.n must be a multiple of the largest
// power of two not above s.n.
func (s *treeStack) pushTo(t *treeStack) {
	for i := bits.Len64(s.n) - 1; i >= 0; i-- {
		if s.n&(1<<i) != 0 {
			t.push(s.cvs[i], i)
		}
	}
}

// top returns the CV of s when it holds one complete subtree of 2^h chunks.
func (s *treeStack) top(h int) [8]uint32 { return s.cvs[h] }

// groups hashes p, whole groups of 16 chunks, as the next subtrees of s.
func (s *treeStack) groups(p []byte) {
	for ; len(p) >= groupLen; p = p[groupLen:] {
		n := guts.CompressBuffer((*[groupLen]byte)(p), groupLen, &guts.IV, s.base+s.n, 0)
		s.push(guts.ChainingValue(n), groupH)
	}
}

// small hashes p, whole chunks fewer than a group, as the next subtrees of
// s, largest first (each aligned as BLAKE3's tree wants it).
func (s *treeStack) small(p []byte, scratch *[groupLen]byte) {
	for len(p) > 0 {
		h := min(bits.TrailingZeros64((s.base+s.n)|1<<groupH), bits.Len64(uint64(len(p)/chunkLen))-1)
		k := copy(scratch[:], p[:chunkLen<<h])
		n := guts.CompressBuffer(scratch, k, &guts.IV, s.base+s.n, 0)
		s.push(guts.ChainingValue(n), h)
		p = p[k:]
	}
}

// reset empties s for subtrees starting at chunk base of the input, a
// multiple of every subtree's size pushed into s.
func (s *treeStack) reset(base uint64) { s.n, s.base = 0, base }

// sum returns the BLAKE3-256 of the input whose chunks before the last are
// pushed in s (from chunk 0) and whose last chunk, 0 to 1024 bytes (0 only
// for an empty input), is tail.
func (s *treeStack) sum(tail []byte) [32]byte {
	n := guts.CompressChunk(tail, &guts.IV, s.n, 0)
	for i := bits.TrailingZeros64(s.n); i < bits.Len64(s.n); i++ {
		if s.n&(1<<i) != 0 {
			n = guts.ParentNode(s.cvs[i], guts.ChainingValue(n), &guts.IV, 0)
		}
	}
	n.Flags |= guts.FlagRoot
	out := guts.WordsToBytes(guts.CompressNode(n))
	return [32]byte(out[:32])
}

// treeLayout splits an input of size bytes into what can be hashed apart:
// units of 2^h chunks (the full ones, units of them), then the end, which
// holds the chunks left (fewer than a unit) and the last chunk.
type treeLayout struct {
	size  int64
	h     int    // log2 of the chunks in a unit
	units uint64 // full units
}

func newTreeLayout(size int64, h int) treeLayout {
	chunks := max(1, (uint64(size)+chunkLen-1)/chunkLen)
	return treeLayout{size: size, h: h, units: (chunks - 1) >> h}
}

// unitLen is the length of a unit in bytes.
func (l treeLayout) unitLen() int64 { return chunkLen << l.h }

// lastChunk is where the last chunk begins, in bytes.
func (l treeLayout) lastChunk() int64 {
	if l.size == 0 {
		return 0
	}
	return (l.size - 1) &^ (chunkLen - 1)
}
