package merkle_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

func TestAttrNames(t *testing.T) {
	tests := []struct {
		a    merkle.Attr
		want string
	}{
		{0, ""},
		{merkle.AttrContent, "content"},
		{merkle.AttrFlags, "flags"},
		{merkle.AttrMode | merkle.AttrUID | merkle.AttrTarget, "mode,uid,target"},
		{merkle.AttrAll, "content,type,mode,uid,gid,size,mtime,ctime,inode,nlink,xattrs,target,flags"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("Attr(%#x).String() = %q, want %q", uint32(tt.a), got, tt.want)
		}
	}
	for _, n := range merkle.AttrAll.Names() {
		a, err := merkle.ParseAttr(n)
		if err != nil || a.Names()[0] != n || len(a.Names()) != 1 {
			t.Errorf("ParseAttr(%q) = %v, %v; want the attribute of that name", n, a, err)
		}
	}
	if a, err := merkle.ParseAttr("all"); a != merkle.AttrAll || err != nil {
		t.Errorf("ParseAttr(all) = %v, %v; want %v, nil", a, err, merkle.AttrAll)
	}
	if _, err := merkle.ParseAttr("colour"); err == nil {
		t.Errorf("ParseAttr(colour) = nil error, want one")
	}
	if !merkle.AttrAll.Has(merkle.AttrMode|merkle.AttrGID) || merkle.AttrMode.Has(merkle.AttrMode|merkle.AttrGID) || !merkle.AttrMode.Has(0) {
		t.Errorf("Has: want AttrAll ⊇ {mode,gid}, mode ⊉ {mode,gid}, mode ⊇ {}")
	}
}

func TestTypeAndStateNames(t *testing.T) {
	got := []string{merkle.TypeFile.String(), merkle.TypeBlockDev.String(), merkle.Type(200).String(),
		merkle.HashOK.String(), merkle.HashFailed.String(), merkle.HashState(9).String()}
	want := []string{"file", "block_device", "unknown", "ok", "failed", "invalid"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("names (-got +want):\n%s", diff)
	}
}

// TestCompareUnknownContent checks that content that could not be hashed is
// never taken as intact unless both sides are in the same state.
func TestCompareUnknownContent(t *testing.T) {
	withState := func(s merkle.HashState, h byte) *merkle.Entry {
		e := baseFile()
		e.HashState, e.Hash = s, [32]byte{h}
		return e
	}
	tests := []struct {
		name     string
		old, cur *merkle.Entry
		want     merkle.Attr
	}{
		{"ok, same hash", withState(merkle.HashOK, 1), withState(merkle.HashOK, 1), 0},
		{"ok to skipped", withState(merkle.HashOK, 1), withState(merkle.HashSkipped, 0), merkle.AttrContent},
		{"skipped to ok", withState(merkle.HashSkipped, 0), withState(merkle.HashOK, 1), merkle.AttrContent},
		{"failed both", withState(merkle.HashFailed, 0), withState(merkle.HashFailed, 0), 0},
		{"unstable both", withState(merkle.HashUnstable, 0), withState(merkle.HashUnstable, 0), 0},
		{"unstable to failed", withState(merkle.HashUnstable, 0), withState(merkle.HashFailed, 0), merkle.AttrContent},
		{"none both", withState(merkle.HashNone, 0), withState(merkle.HashNone, 0), 0},
	}
	for _, tt := range tests {
		if got := merkle.Compare(tt.old, tt.cur); got != tt.want {
			t.Errorf("%s: Compare = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCompareUsesBothRules checks that the attributes compared are those
// monitored by either entry's rule: a rule that stops watching an
// attribute cannot hide a change of it until the rule is accepted.
func TestCompareUsesBothRules(t *testing.T) {
	old, cur := baseFile(), baseFile()
	cur.Mtime++
	cur.Perm = 0o600
	cur.Attrs = merkle.AttrMode
	if got, want := merkle.Compare(old, cur), merkle.AttrMode|merkle.AttrMtime; got != want {
		t.Errorf("Compare with the recorded Attrs all, current mode = %v, want %v", got, want)
	}
	old.Attrs = merkle.AttrMode
	if got, want := merkle.Compare(old, cur), merkle.AttrMode; got != want {
		t.Errorf("Compare with both Attrs mode = %v, want %v", got, want)
	}
	old.Attrs, cur.Attrs = merkle.AttrMode, merkle.AttrAll
	if got, want := merkle.Compare(old, cur), merkle.AttrMode|merkle.AttrMtime; got != want {
		t.Errorf("Compare with current Attrs all = %v, want %v", got, want)
	}
}
