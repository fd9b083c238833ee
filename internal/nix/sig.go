package nix

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// PublicKey is a Nix signing key's public half, as trusted-public-keys
// lists it: "name:base64(ed25519 public key)".
type PublicKey struct {
	Name string
	Key  ed25519.PublicKey
}

// ParsePublicKey parses "name:base64".
func ParsePublicKey(s string) (PublicKey, error) {
	name, b64, ok := strings.Cut(s, ":")
	k, err := base64.StdEncoding.DecodeString(b64)
	if !ok || name == "" || err != nil || len(k) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("public key %q: not name:base64 of an Ed25519 key", s)
	}
	return PublicKey{Name: name, Key: k}, nil
}

// Fingerprint is what a Nix signature signs for a store path:
// "1;<path>;sha256:<nix base32 NAR hash>;<NAR size>;<references, comma-separated>".
func Fingerprint(p *PathInfo) (string, error) {
	sum, err := ParseSHA256(p.Hash)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.Path, err)
	}
	return "1;" + p.Path + ";sha256:" + Base32(sum[:]) + ";" + strconv.FormatInt(p.NARSize, 10) + ";" +
		strings.Join(p.Refs, ","), nil
}

// SignedBy returns the name of the first key among keys whose signature of
// p's fingerprint is among p.Sigs and verifies, "" if there is none.
func SignedBy(p *PathInfo, keys []PublicKey) string {
	fp, err := Fingerprint(p)
	if err != nil {
		return ""
	}
	for _, s := range p.Sigs {
		name, b64, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) != ed25519.SignatureSize {
			continue
		}
		for _, k := range keys {
			if k.Name == name && ed25519.Verify(k.Key, []byte(fp), sig) {
				return name
			}
		}
	}
	return ""
}

// Sign returns the signature of p's fingerprint by key, in the form
// Nix stores it ("name:base64"). Tests and tools sign with it.
func Sign(p *PathInfo, name string, key ed25519.PrivateKey) (string, error) {
	fp, err := Fingerprint(p)
	if err != nil {
		return "", err
	}
	return name + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(fp))), nil
}

// ContentAddressed reports whether p's CA assertion holds: its store path
// is the one Nix computes from the asserted hash, and for a recursive
// (NAR) hash that hash is p's NAR hash. Such a path needs no signature:
// its name proves its content, as Nix decides. Only the common forms are
// known ("fixed:r:sha256:", "fixed:sha256:", "text:sha256:"); any other is
// not trusted.
func ContentAddressed(p *PathInfo, storeDir string) bool {
	dir, base := path.Split(p.Path)
	hashPart, name, ok := strings.Cut(base, "-")
	if !ok || path.Clean(dir) != storeDir || len(hashPart) != 32 {
		return false
	}
	var typ string
	var inner [32]byte
	switch {
	case strings.HasPrefix(p.CA, "fixed:r:sha256:"):
		h, err := ParseSHA256(strings.TrimPrefix(p.CA, "fixed:r:"))
		nar, err2 := ParseSHA256(p.Hash)
		if err != nil || err2 != nil || h != nar || len(p.Refs) > 0 {
			return false
		}
		typ, inner = "source", h
	case strings.HasPrefix(p.CA, "fixed:sha256:"):
		h, err := ParseSHA256(strings.TrimPrefix(p.CA, "fixed:"))
		if err != nil || len(p.Refs) > 0 {
			return false
		}
		typ = "output:out"
		inner = sha256.Sum256([]byte("fixed:out:sha256:" + hex.EncodeToString(h[:]) + ":"))
	case strings.HasPrefix(p.CA, "text:sha256:"):
		h, err := ParseSHA256(strings.TrimPrefix(p.CA, "text:"))
		if err != nil {
			return false
		}
		typ, inner = "text", h
		for _, r := range p.Refs {
			if r == p.Path {
				return false // text paths cannot refer to themselves
			}
			typ += ":" + r
		}
	default:
		return false
	}
	return MakeStorePath(typ, inner, storeDir, name) == p.Path
}

// MakeStorePath is Nix's makeStorePath: the store path of name whose
// type string is typ and inner hash is h.
func MakeStorePath(typ string, h [32]byte, storeDir, name string) string {
	s := typ + ":sha256:" + hex.EncodeToString(h[:]) + ":" + storeDir + ":" + name
	full := sha256.Sum256([]byte(s))
	var short [20]byte
	for i, b := range full {
		short[i%20] ^= b
	}
	return storeDir + "/" + Base32(short[:]) + "-" + name
}
