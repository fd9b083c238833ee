package merkle_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

func TestPairMoves(t *testing.T) {
	// file returns a regular file on device 1 with the given inode and
	// content.
	file := func(p string, ino uint64, content byte) *merkle.Entry {
		return &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644, Inode: ino, Nlink: 1, Dev: 1,
			Ctime: 10, HashState: merkle.HashOK, Hash: seq(content), Attrs: merkle.AttrAll}
	}
	renamed := func(e *merkle.Entry, p string) *merkle.Entry {
		c := *e
		c.Path, c.Ctime = p, e.Ctime+1 // rename(2) updates ctime
		return &c
	}
	link := func(p, target string) *merkle.Entry {
		return &merkle.Entry{Path: p, Type: merkle.TypeSymlink, Inode: 7, Dev: 1, Target: target, Attrs: merkle.AttrAll}
	}
	del := func(e *merkle.Entry) merkle.Change {
		return merkle.Change{Action: merkle.Deleted, Path: e.Path, Old: e}
	}
	add := func(e *merkle.Entry) merkle.Change {
		return merkle.Change{Action: merkle.Created, Path: e.Path, New: e}
	}
	move := func(old, cur *merkle.Entry) merkle.Change {
		return merkle.Change{Action: merkle.Moved, Path: cur.Path, Old: old, New: cur, Changed: merkle.Compare(old, cur)}
	}

	a := file("/a", 5, 1)
	b := renamed(a, "/b")
	c := renamed(a, "/c")
	d := renamed(a, "/d")
	otherDev := renamed(a, "/b")
	otherDev.Dev = 2
	reused := file("/b", 5, 2)
	changedPerm := renamed(a, "/b")
	changedPerm.Perm = 0o600
	upd := merkle.Change{Action: merkle.Updated, Path: "/u", Old: file("/u", 9, 1), New: file("/u", 9, 3), Changed: merkle.AttrContent}

	tests := []struct {
		name string
		in   []merkle.Change
		want []merkle.Change
	}{
		{"rename", []merkle.Change{del(a), add(b)}, []merkle.Change{move(a, b)}},
		{"rename, created listed first", []merkle.Change{add(b), del(a)}, []merkle.Change{move(a, b)}},
		{"rename with changed mode", []merkle.Change{del(a), add(changedPerm)},
			[]merkle.Change{{Action: merkle.Moved, Path: "/b", Old: a, New: changedPerm, Changed: merkle.AttrMode | merkle.AttrCtime}}},
		{"reused inode, other content", []merkle.Change{del(a), add(reused)}, []merkle.Change{del(a), add(reused)}},
		{"same inode on another device", []merkle.Change{del(a), add(otherDev)}, []merkle.Change{del(a), add(otherDev)}},
		{"symlink with another target", []merkle.Change{del(link("/l", "x")), add(link("/m", "y"))},
			[]merkle.Change{del(link("/l", "x")), add(link("/m", "y"))}},
		{"symlink renamed", []merkle.Change{del(link("/l", "x")), add(link("/m", "x"))},
			[]merkle.Change{move(link("/l", "x"), link("/m", "x"))}},
		// Two hard links deleted, one path created: the first deleted one
		// (in input order) moved, the other stays deleted.
		{"two deleted candidates", []merkle.Change{del(a), del(c), add(b)}, []merkle.Change{move(a, b), del(c)}},
		{"two deleted candidates, other order", []merkle.Change{del(c), del(a), add(b)}, []merkle.Change{del(a), move(c, b)}},
		// One path deleted, two created with its inode: the first created
		// one (in input order) is the move.
		{"two created candidates", []merkle.Change{del(a), add(b), add(d)}, []merkle.Change{move(a, b), add(d)}},
		{"other changes pass through", []merkle.Change{del(a), upd, add(b)}, []merkle.Change{move(a, b), upd}},
		{"no deletions", []merkle.Change{add(b), upd}, []merkle.Change{add(b), upd}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := merkle.PairMoves(tt.in)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("PairMoves (-got +want):\n%s", diff)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    merkle.Action
		want string
	}{
		{merkle.Created, "created"},
		{merkle.Deleted, "deleted"},
		{merkle.Updated, "updated"},
		{merkle.AttributesModified, "attributes_modified"},
		{merkle.Moved, "moved"},
		{0, "invalid"},
		{99, "invalid"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("Action(%d).String() = %q, want %q", tt.a, got, tt.want)
		}
	}
}
