package engine

import (
	"testing"

	"vigil/merkle"
)

// TestAddKeepsNoRecordOutsideDelta checks that a pass that writes no delta
// (a check recomputing its root) keeps no recorded entry per directory: they
// would live until the pass ends, a million of them for a million files.
func TestAddKeepsNoRecordOutsideDelta(t *testing.T) {
	p := &pass{build: merkle.NewBuilder(nil)}
	old := &merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType}
	for _, e := range []*merkle.Entry{
		{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType},
		{Path: "/a", Type: merkle.TypeDir, Attrs: merkle.AttrType},
		{Path: "/a/f", Type: merkle.TypeFile, Attrs: merkle.AttrType},
	} {
		if err := p.add(e, old); err != nil {
			t.Fatalf("add(%s) = %v, want nil", e.Path, err)
		}
	}
	if _, err := p.build.(*merkle.Builder).Finish(); err != nil {
		t.Fatalf("Finish() = %v, want nil", err)
	}
	if len(p.olds) != 0 || p.leafOld != nil {
		t.Errorf("after a pass without a delta writer: %d recorded directories and leaf %v kept, want none", len(p.olds), p.leafOld)
	}
}
