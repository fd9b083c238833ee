package store

import (
	"testing"

	"vigil/merkle"
)

// TestVerifierLeafHash checks that the Verifier hands out only the leaf hash
// it computed itself from the record, never the hash the record carries,
// and only for the last leaf added.
func TestVerifierLeafHash(t *testing.T) {
	v := NewVerifier(Info{}, false)
	root := &merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrAll}
	a := &merkle.Entry{Path: "/a", Type: merkle.TypeFile, Size: 5, Attrs: merkle.AttrAll}
	b := &merkle.Entry{Path: "/b", Type: merkle.TypeFile, Size: 6, Attrs: merkle.AttrAll}
	v.Add(merkle.Node{Entry: root})
	if _, ok := v.LeafHash(root); ok {
		t.Error("LeafHash of a directory")
	}
	v.Add(merkle.Node{Entry: a, Hash: merkle.Hash{1}}) // a forged stored hash
	want, _ := merkle.LeafHash(a, nil)
	if h, ok := v.LeafHash(a); !ok || h != want {
		t.Errorf("LeafHash(/a) = %x, %v; want %x, true", h, ok, want)
	}
	copyA := *a
	if _, ok := v.LeafHash(&copyA); ok {
		t.Error("LeafHash of an entry the Verifier did not read")
	}
	v.Add(merkle.Node{Entry: b})
	if _, ok := v.LeafHash(a); ok {
		t.Error("LeafHash of a leaf that is no longer the last")
	}

	v1 := NewVerifier(Info{}, false)
	v1.version = merkle.V1
	v1.Add(merkle.Node{Entry: a})
	if _, ok := v1.LeafHash(a); ok {
		t.Error("LeafHash from a V1 baseline")
	}
}
