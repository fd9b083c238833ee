package nix

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"slices"
)

// narMagic opens every NAR.
const narMagic = "nix-archive-1"

// narWriter writes the tokens of a NAR: each string as its length (64-bit
// little-endian), its bytes and zero padding to a multiple of 8.
type narWriter struct {
	w    io.Writer
	stat *statHasher // if set, fed every entry's lstat (hashStatPath)
	n    int64       // bytes written
	buf  [8]byte
	err  error
}

func (nw *narWriter) write(b []byte) {
	if nw.err != nil {
		return
	}
	k, err := nw.w.Write(b)
	nw.n += int64(k)
	nw.err = err
}

func (nw *narWriter) str(s string) {
	nw.length(uint64(len(s)))
	nw.write([]byte(s))
	nw.pad(uint64(len(s)))
}

func (nw *narWriter) strs(ss ...string) {
	for _, s := range ss {
		nw.str(s)
	}
}

func (nw *narWriter) length(n uint64) {
	binary.LittleEndian.PutUint64(nw.buf[:], n)
	nw.write(nw.buf[:])
}

var zeros [8]byte

func (nw *narWriter) pad(n uint64) {
	if r := n % 8; r != 0 {
		nw.write(zeros[:8-r])
	}
}

// PathHash is the SHA-256 of a store path's NAR serialization and the
// NAR's size, as the Nix database records them (ValidPaths.hash, narSize).
type PathHash struct {
	SHA256  [sha256.Size]byte
	NARSize int64
}

// String returns the hash as Nix prints it: "sha256:" and Nix base32.
func (h PathHash) String() string { return "sha256:" + Base32(h.SHA256[:]) }

// HashPath returns the SHA-256 and size of the NAR serialization of the
// file tree at path, which is never followed if it is a symlink. See
// [WriteNAR] for what is read and refused.
func HashPath(path string) (PathHash, error) {
	h := sha256.New()
	n, err := WriteNAR(h, path)
	if err != nil {
		return PathHash{}, err
	}
	var out PathHash
	copy(out.SHA256[:], h.Sum(nil))
	out.NARSize = n
	return out, nil
}

// sortBytes sorts names in byte order, as NAR directories list them.
func sortBytes(names []string) {
	slices.Sort(names) // Go compares strings byte by byte
}
