package nix

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// base32Chars is Nix's base32 alphabet (no e, o, u, t).
const base32Chars = "0123456789abcdfghijklmnpqrsvwxyz"

// Base32 encodes b as Nix does: 5-bit groups taken from the end of the
// byte string, least significant bits first.
func Base32(b []byte) string {
	n := (len(b)*8-1)/5 + 1
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		j, k := bit/8, uint(bit%8)
		c := b[j] >> k
		if j+1 < len(b) {
			c |= b[j+1] << (8 - k)
		}
		out[n-1-i] = base32Chars[c&0x1f]
	}
	return string(out)
}

// decodeBase32 is the inverse of [Base32] for a digest of size bytes.
func decodeBase32(s string, size int) ([]byte, error) {
	if len(s) != (size*8-1)/5+1 {
		return nil, ErrBadHash
	}
	out := make([]byte, size)
	for n := 0; n < len(s); n++ {
		c := strings.IndexByte(base32Chars, s[len(s)-1-n])
		if c < 0 {
			return nil, ErrBadHash
		}
		bit := n * 5
		j, k := bit/8, uint(bit%8)
		out[j] |= byte(c << k)
		if j+1 < size {
			out[j+1] |= byte(c >> (8 - k))
		} else if c>>(8-k) != 0 {
			return nil, ErrBadHash
		}
	}
	return out, nil
}

// ParseSHA256 parses a SHA-256 as the Nix database and narinfo files write
// it: "sha256:" followed by hex (the database since Nix 2.0) or Nix base32.
func ParseSHA256(s string) ([32]byte, error) {
	var out [32]byte
	rest, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return out, fmt.Errorf("%q: %w", s, ErrBadHash)
	}
	var b []byte
	var err error
	switch len(rest) {
	case 64:
		b, err = hex.DecodeString(rest)
	case 52:
		b, err = decodeBase32(rest, 32)
	default:
		err = ErrBadHash
	}
	if err != nil {
		return out, fmt.Errorf("%q: %w", s, ErrBadHash)
	}
	copy(out[:], b)
	return out, nil
}
