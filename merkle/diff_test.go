package merkle_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

// memTree is an in-memory merkle.Tree built with a merkle.Builder. It
// counts the Children calls it gets.
type memTree struct {
	nodes map[string]merkle.Node
	kids  map[string][]merkle.Node
	calls map[string]int
}

// newMemTree builds the tree of entries, which may come in any order.
func newMemTree(t testing.TB, entries map[string]*merkle.Entry) *memTree {
	t.Helper()
	m := &memTree{nodes: map[string]merkle.Node{}, kids: map[string][]merkle.Node{}, calls: map[string]int{}}
	b := merkle.NewBuilder(func(n merkle.Node) error {
		m.nodes[n.Entry.Path] = n
		return nil
	})
	for _, p := range sortedPaths(entries) {
		if err := b.Add(entries[p]); err != nil {
			t.Fatalf("Builder.Add(%s): %v", p, err)
		}
	}
	if _, err := b.Finish(); err != nil {
		t.Fatalf("Builder.Finish: %v", err)
	}
	for _, p := range slices.SortedFunc(maps.Keys(m.nodes), merkle.ComparePaths) {
		if p != "/" {
			m.kids[merkle.Parent(p)] = append(m.kids[merkle.Parent(p)], m.nodes[p])
		}
	}
	return m
}

func (m *memTree) Node(p string) (merkle.Node, bool, error) {
	n, ok := m.nodes[p]
	return n, ok, nil
}

func (m *memTree) Children(p string) ([]merkle.Node, error) {
	m.calls[p]++
	return slices.Clone(m.kids[p]), nil
}

func sortedPaths(entries map[string]*merkle.Entry) []string {
	return slices.SortedFunc(maps.Keys(entries), merkle.ComparePaths)
}

// bruteDiff compares every path within scope of two path→entry maps.
func bruteDiff(a, b map[string]*merkle.Entry, scope string) []merkle.Change {
	union := map[string]*merkle.Entry{}
	maps.Copy(union, a)
	maps.Copy(union, b)
	var out []merkle.Change
	for _, p := range sortedPaths(union) {
		if !merkle.Within(p, scope) {
			continue
		}
		old, cur := a[p], b[p]
		switch {
		case cur == nil:
			out = append(out, merkle.Change{Action: merkle.Deleted, Path: p, Old: old})
		case old == nil:
			out = append(out, merkle.Change{Action: merkle.Created, Path: p, New: cur})
		default:
			d := merkle.Compare(old, cur)
			switch {
			case d == 0:
			case d&(merkle.AttrContent|merkle.AttrType) != 0:
				out = append(out, merkle.Change{Action: merkle.Updated, Path: p, Old: old, New: cur, Changed: d})
			default:
				out = append(out, merkle.Change{Action: merkle.AttributesModified, Path: p, Old: old, New: cur, Changed: d})
			}
		}
	}
	return out
}

// streamDiff runs a StreamDiff of the entries of b within scope against
// those of a.
func streamDiff(a, b map[string]*merkle.Entry, scope string) ([]merkle.Change, error) {
	var olds []*merkle.Entry
	for _, p := range sortedPaths(a) {
		if merkle.Within(p, scope) {
			olds = append(olds, a[p])
		}
	}
	var out []merkle.Change
	d := merkle.NewStreamDiff(func() (*merkle.Entry, error) {
		if len(olds) == 0 {
			return nil, nil
		}
		e := olds[0]
		olds = olds[1:]
		return e, nil
	}, func(c merkle.Change) error { out = append(out, c); return nil })
	for _, p := range sortedPaths(b) {
		if merkle.Within(p, scope) {
			if err := d.Add(b[p]); err != nil {
				return out, err
			}
		}
	}
	return out, d.Finish()
}

func treeDiff(a, b *memTree, scope string) ([]merkle.Change, error) {
	var out []merkle.Change
	err := merkle.Diff(a, b, scope, func(c merkle.Change) error { out = append(out, c); return nil })
	return out, err
}

// checkPruned checks that Diff listed only directories of t, each once, and
// none inside a subtree whose node hash is the same in both trees.
func checkPruned(t testing.TB, side string, tr, other *memTree) {
	t.Helper()
	for p, n := range tr.calls {
		if n != 1 {
			t.Errorf("%s: Children(%s) called %d times, want at most once", side, p, n)
		}
		if node, ok := tr.nodes[p]; !ok || node.Entry.Type != merkle.TypeDir {
			t.Errorf("%s: Children(%s) called on something that is not a directory", side, p)
		}
		for q := p; q != ""; q = merkle.Parent(q) {
			x, okx := tr.nodes[q]
			y, oky := other.nodes[q]
			if okx && oky && x.Hash == y.Hash {
				t.Errorf("%s: Children(%s) called although %s has the same hash in both trees", side, p, q)
			}
		}
	}
}

// diffAll runs Diff, StreamDiff and the brute force on the same input and
// compares the results.
func diffAll(t testing.TB, a, b map[string]*merkle.Entry, scope string) {
	t.Helper()
	want := bruteDiff(a, b, scope)
	ta, tb := newMemTree(t, a), newMemTree(t, b)
	got, err := treeDiff(ta, tb, scope)
	if err != nil {
		t.Fatalf("Diff(%s): %v", scope, err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Diff(%s) differs from brute force (-got +want):\n%s\nbefore: %s\nafter: %s", scope, diff, dump(a), dump(b))
	}
	checkPruned(t, "before", ta, tb)
	checkPruned(t, "after", tb, ta)
	got, err = streamDiff(a, b, scope)
	if err != nil {
		t.Fatalf("StreamDiff(%s): %v", scope, err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("StreamDiff(%s) differs from brute force (-got +want):\n%s\nbefore: %s\nafter: %s", scope, diff, dump(a), dump(b))
	}
}

func dump(m map[string]*merkle.Entry) []string {
	var out []string
	for _, p := range sortedPaths(m) {
		out = append(out, p+":"+m[p].Type.String())
	}
	return out
}

// fuzzReader hands out the fuzz input a byte at a time, zeros when it runs
// out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// names collide around '/' in ComparePaths order.
var fuzzNames = []string{"a", "b", "a-b", "a0", "ab"}

var fuzzTypes = []merkle.Type{merkle.TypeDir, merkle.TypeDir, merkle.TypeDir, merkle.TypeFile, merkle.TypeFile, merkle.TypeSymlink, merkle.TypeCharDev}

// fuzzEntry makes an entry whose attributes come from one byte: a few
// values for perm, mtime, content, hash state and the monitored set.
func fuzzEntry(p string, typ merkle.Type, v byte) *merkle.Entry {
	e := &merkle.Entry{Path: p, Type: typ, Perm: 0o600 | uint32(v&1)*0o44, Mtime: int64(v >> 1 & 3)}
	switch typ {
	case merkle.TypeFile:
		e.HashState, e.Hash = merkle.HashOK, [32]byte{v >> 3 & 3}
		if v>>5&1 == 1 {
			e.HashState, e.Hash = merkle.HashSkipped, [32]byte{}
		}
	case merkle.TypeSymlink:
		e.Target = string(rune('x' + v>>3&1))
	case merkle.TypeCharDev:
		e.Rdev = uint64(v >> 3 & 3)
	}
	e.Attrs = [...]merkle.Attr{merkle.AttrAll, merkle.AttrAll &^ merkle.AttrMtime, merkle.AttrType | merkle.AttrMode, merkle.AttrAll}[v>>6]
	return e
}

// genDir adds up to five children of dir, recursing to depth 4.
func genDir(r *fuzzReader, m map[string]*merkle.Entry, dir string, depth int) {
	for range int(r.next() % 6) {
		p := merkle.Join(dir, fuzzNames[int(r.next())%len(fuzzNames)])
		typ := fuzzTypes[int(r.next())%len(fuzzTypes)]
		if _, dup := m[p]; dup {
			continue
		}
		if depth >= 4 && typ == merkle.TypeDir {
			typ = merkle.TypeFile
		}
		m[p] = fuzzEntry(p, typ, r.next())
		if typ == merkle.TypeDir {
			genDir(r, m, p, depth+1)
		}
	}
}

// depth returns how deep p lies: 1 for "/", 2 for its children.
func depth(p string) int {
	if p == "/" {
		return 1
	}
	return strings.Count(p, "/") + 1
}

func deleteSubtree(m map[string]*merkle.Entry, dir string) {
	for p := range m {
		if merkle.Within(p, dir) {
			delete(m, p)
		}
	}
}

// edit applies up to seven random edits to a copy of a.
func edit(r *fuzzReader, a map[string]*merkle.Entry) map[string]*merkle.Entry {
	b := map[string]*merkle.Entry{}
	for p, e := range a {
		c := *e
		b[p] = &c
	}
	for range int(r.next() % 8) {
		paths := sortedPaths(b)
		p := paths[int(r.next())%len(paths)]
		e := b[p]
		switch r.next() % 4 {
		case 0: // delete
			if p != "/" {
				deleteSubtree(b, p)
			}
		case 1: // new attributes
			b[p] = fuzzEntry(p, e.Type, r.next())
		case 2: // new children
			if e.Type == merkle.TypeDir {
				genDir(r, b, p, depth(p))
			}
		case 3: // new type
			typ := fuzzTypes[int(r.next())%len(fuzzTypes)]
			if p == "/" {
				typ = merkle.TypeDir
			}
			deleteSubtree(b, p)
			b[p] = fuzzEntry(p, typ, byte(e.Mtime<<1)|byte(e.Perm>>2&1))
		}
	}
	return b
}

// decodeTrees turns fuzz input into two similar trees rooted at "/" and a
// scope to compare them at.
func decodeTrees(data []byte) (a, b map[string]*merkle.Entry, scope string) {
	r := &fuzzReader{b: data}
	a = map[string]*merkle.Entry{"/": fuzzEntry("/", merkle.TypeDir, r.next())}
	genDir(r, a, "/", 1)
	b = edit(r, a)
	scope = "/"
	if s := r.next(); s >= 0xc0 {
		union := maps.Clone(a)
		maps.Copy(union, b)
		paths := append(sortedPaths(union), "/a/zz")
		scope = paths[int(s)%len(paths)]
	}
	return a, b, scope
}

func FuzzDiff(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 0, 1, 1, 1, 7, 2, 3, 2, 0, 0, 1})
	f.Add([]byte("a small tree, then a few edits to it, then a scope"))
	f.Add([]byte{0, 3, 0, 0, 0, 2, 0, 1, 0, 0x40, 1, 0, 0, 3, 1, 1, 0, 3, 0, 4, 9, 1, 2, 3, 3, 7, 1, 0xff})
	f.Add([]byte{0xff, 0xff, 0xfe, 0x10, 0x31, 0x42, 0x53, 0x64, 0x75, 0x86, 0x97, 0xa8, 0xb9, 0xca, 0xdb, 0xec, 0xfd})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b, scope := decodeTrees(data)
		diffAll(t, a, b, scope)
		diffAll(t, b, a, scope)
		// A tree compared with itself lists nothing.
		ta := newMemTree(t, a)
		got, err := treeDiff(ta, ta, "/")
		if err != nil || len(got) != 0 || len(ta.calls) != 0 {
			t.Errorf("Diff(a, a) = %v, %v with Children calls %v; want nothing", got, err, ta.calls)
		}
	})
}

// TestDiffPrunes checks on a concrete tree that Diff lists only the
// directories on the way to a change.
func TestDiffPrunes(t *testing.T) {
	a := map[string]*merkle.Entry{}
	for _, e := range []*merkle.Entry{d("/"), d("/a"), f("/a/x"), d("/a/y"), f("/a/y/z"), d("/b"), f("/b/c"), f("/c")} {
		a[e.Path] = e
	}
	b := maps.Clone(a)
	x := *a["/a/x"]
	x.Perm = 0o600
	b["/a/x"] = &x
	ta, tb := newMemTree(t, a), newMemTree(t, b)
	got, err := treeDiff(ta, tb, "/")
	if err != nil {
		t.Fatal(err)
	}
	want := []merkle.Change{{Action: merkle.AttributesModified, Path: "/a/x", Old: a["/a/x"], New: &x, Changed: merkle.AttrMode}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Diff (-got +want):\n%s", diff)
	}
	wantCalls := map[string]int{"/": 1, "/a": 1}
	if diff := cmp.Diff(ta.calls, wantCalls); diff != "" {
		t.Errorf("Children calls on before (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(tb.calls, wantCalls); diff != "" {
		t.Errorf("Children calls on after (-got +want):\n%s", diff)
	}
}

// TestDiffTypeChange checks a directory replaced by a file and back: the
// path is updated and the subtree deleted or created.
func TestDiffTypeChange(t *testing.T) {
	dirTree := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/x": f("/a/x"), "/a/y": d("/a/y"), "/a/y/z": f("/a/y/z")}
	fileTree := map[string]*merkle.Entry{"/": d("/"), "/a": f("/a")}
	ta, tb := newMemTree(t, dirTree), newMemTree(t, fileTree)
	got, err := treeDiff(ta, tb, "/")
	if err != nil {
		t.Fatal(err)
	}
	acts := func(cs []merkle.Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Action.String()+" "+c.Path)
		}
		return out
	}
	want := []string{"updated /a", "deleted /a/x", "deleted /a/y", "deleted /a/y/z"}
	if diff := cmp.Diff(acts(got), want); diff != "" {
		t.Errorf("Diff(dir, file) (-got +want):\n%s", diff)
	}
	got, err = treeDiff(tb, ta, "/")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"updated /a", "created /a/x", "created /a/y", "created /a/y/z"}
	if diff := cmp.Diff(acts(got), want); diff != "" {
		t.Errorf("Diff(file, dir) (-got +want):\n%s", diff)
	}
	diffAll(t, dirTree, fileTree, "/")
	diffAll(t, dirTree, fileTree, "/a")
}

type errTree struct {
	memTree
	nodeErr, kidsErr error
}

func (e *errTree) Node(p string) (merkle.Node, bool, error) {
	if e.nodeErr != nil {
		return merkle.Node{}, false, e.nodeErr
	}
	return e.memTree.Node(p)
}

func (e *errTree) Children(p string) ([]merkle.Node, error) {
	if e.kidsErr != nil {
		return nil, e.kidsErr
	}
	return e.memTree.Children(p)
}

func TestDiffErrors(t *testing.T) {
	boom := errors.New("boom")
	a := map[string]*merkle.Entry{"/": d("/"), "/a": f("/a")}
	b := map[string]*merkle.Entry{"/": d("/"), "/b": f("/b")}
	emit := func(merkle.Change) error { return nil }
	tests := []struct {
		name string
		a, b merkle.Tree
		emit func(merkle.Change) error
	}{
		{"node error before", &errTree{memTree: *newMemTree(t, a), nodeErr: boom}, newMemTree(t, b), emit},
		{"node error after", newMemTree(t, a), &errTree{memTree: *newMemTree(t, b), nodeErr: boom}, emit},
		{"children error before", &errTree{memTree: *newMemTree(t, a), kidsErr: boom}, newMemTree(t, b), emit},
		{"children error after", newMemTree(t, a), &errTree{memTree: *newMemTree(t, b), kidsErr: boom}, emit},
		{"emit error", newMemTree(t, a), newMemTree(t, b), func(merkle.Change) error { return boom }},
	}
	for _, tt := range tests {
		if err := merkle.Diff(tt.a, tt.b, "/", tt.emit); !errors.Is(err, boom) {
			t.Errorf("%s: Diff = %v, want %v", tt.name, err, boom)
		}
	}
}

func TestStreamDiffErrors(t *testing.T) {
	boom := errors.New("boom")
	d := merkle.NewStreamDiff(func() (*merkle.Entry, error) { return nil, boom }, func(merkle.Change) error { return nil })
	if err := d.Add(f("/a")); !errors.Is(err, boom) {
		t.Errorf("Add with failing next = %v, want %v", err, boom)
	}
	d = merkle.NewStreamDiff(func() (*merkle.Entry, error) { return nil, nil }, func(merkle.Change) error { return nil })
	for _, p := range []string{"/a", "/a/b"} {
		if err := d.Add(f(p)); err != nil {
			t.Fatalf("Add(%s) = %v", p, err)
		}
	}
	for _, p := range []string{"/a/b", "/a"} {
		if err := d.Add(f(p)); !errors.Is(err, merkle.ErrUnsorted) {
			t.Errorf("Add(%s) after /a/b = %v, want %v", p, err, merkle.ErrUnsorted)
		}
	}
}
