package engine

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// FuzzMerge is a differential test of the merge-join (merge.go): two trees
// come from the fuzz input, the first is stored as a baseline in a real
// bbolt file, and the second is fed to the join in scan order, one
// directory of it possibly unlisted (scanner.ErrUnlisted). The changes the
// join reports must be those of a map diff of the two path→entry sets
// (outside the unlisted directory), in the same order: modifications in
// path order, then creations and deletions paired into moves; the
// verifier must find the stored records intact, and the tree the join
// builds must be the second tree with the recorded subtree of the
// unlisted directory kept.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 0, 1, 1, 1, 7, 2, 3, 2, 0, 0, 1})
	f.Add([]byte("a small tree, then a few edits to it, then an unlisted directory"))
	f.Add([]byte{0, 3, 0, 0, 0, 2, 0, 1, 0, 0x40, 1, 0, 0, 3, 1, 1, 0, 3, 0, 4, 9, 1, 2, 3, 3, 7, 1, 0xff})
	f.Add([]byte{0xff, 0xff, 0xfe, 0x10, 0x31, 0x42, 0x53, 0x64, 0x75, 0x86, 0x97, 0xa8, 0xb9, 0xca, 0xdb, 0xec, 0xfd})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &mergeInput{b: data}
		a := map[string]*merkle.Entry{"/": mergeEntry("/", merkle.TypeDir, r.next())}
		mergeGenDir(r, a, "/", 1)
		b := mergeEdit(r, a)
		unlisted := ""
		if s := r.next(); s >= 0x80 {
			var dirs []string
			for _, p := range mergePaths(b) {
				if b[p].Type == merkle.TypeDir {
					dirs = append(dirs, p)
				}
			}
			unlisted = dirs[int(s)%len(dirs)]
		}
		checkMerge(t, a, b, unlisted)
	})
}

// checkMerge stores a, joins b against it (unlisted, if not "", being a
// directory of b whose contents could not be read) and compares the result
// with the map diff.
func checkMerge(t *testing.T, a, b map[string]*merkle.Entry, unlisted string) {
	t.Helper()
	db, err := store.Open(filepath.Join(fuzzDir(t), "vigil.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.Create(store.Info{Command: "init", Host: "fuzz", Roots: []string{"/"}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := mergeTree(a, w.Add)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(root, 1); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}

	var got []merkle.Change
	var res Result
	o := Options{Report: Funcs{OnChange: func(c merkle.Change) error { got = append(got, c); return nil }}}
	build := merkle.NewBuilder(nil)
	p := &pass{opts: &o, res: &res, verify: store.NewVerifier(cur.Info(), true), build: build}
	p.diff = merkle.NewStreamDiff(p.next(cur.Iter()), p.change)
	for _, path := range mergePaths(b) {
		if unlisted != "" && path != unlisted && merkle.Within(path, unlisted) {
			continue // the scan cannot list them
		}
		e := *b[path]
		if err := p.visit(&e); err != nil {
			t.Fatalf("visit(%s): %v", path, err)
		}
		if path == unlisted {
			if err := p.onError(path, scanner.ErrUnlisted); err != nil {
				t.Fatalf("onError(%s): %v", path, err)
			}
		}
	}
	if err := p.diff.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if err := p.verify.Finish(); err != nil {
		t.Errorf("the verifier of the stored baseline: %v", err)
	}
	if err := p.flushHeld(); err != nil {
		t.Fatal(err)
	}
	newRoot, err := build.Finish()
	if err != nil {
		t.Fatalf("building the new tree: %v", err)
	}

	// What the scan saw, what it hid, and the diff of the two maps.
	seenA, seenB, kept := map[string]*merkle.Entry{}, map[string]*merkle.Entry{}, map[string]*merkle.Entry{}
	for p, e := range a {
		if unlisted != "" && p != unlisted && merkle.Within(p, unlisted) {
			kept[p] = e
		} else {
			seenA[p] = e
		}
	}
	for p, e := range b {
		if unlisted == "" || p == unlisted || !merkle.Within(p, unlisted) {
			seenB[p] = e
		}
	}
	want, counts := mapDiff(seenA, seenB)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("merge-join changes differ from the map diff (-got +want), unlisted %q:\n%s\nbaseline: %v\nscan: %v", unlisted, diff, mergeDump(a), mergeDump(b))
	}
	if gotCounts := [4]int64{res.Changed, res.Added, res.Removed, res.Moved}; gotCounts != counts {
		t.Errorf("Result changed, added, removed, moved = %v, want %v", gotCounts, counts)
	}
	var wantErrors int64
	if unlisted != "" {
		wantErrors = 1
	}
	if res.Errors != wantErrors {
		t.Errorf("Result.Errors = %d with unlisted %q, want %d", res.Errors, unlisted, wantErrors)
	}
	maps.Copy(seenB, kept)
	wantRoot, err := mergeTree(seenB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if newRoot != wantRoot {
		t.Errorf("new tree root %x, want %x (the scan with the unlisted %q's recorded subtree)", newRoot, wantRoot, unlisted)
	}
}

// fuzzDir returns a temporary directory, removed when t ends, on tmpfs
// where there is one (/dev/shm): bbolt's fsyncs there cost nothing.
func fuzzDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/dev/shm", "vigil-fuzz-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(d); err != nil {
			t.Error(err)
		}
	})
	return d
}

// mapDiff compares every path of two path→entry maps, as the join must
// report it: modifications in path order, then creations and deletions
// paired into moves, in path order. It returns the counts of changed,
// added, removed and moved paths too.
func mapDiff(a, b map[string]*merkle.Entry) ([]merkle.Change, [4]int64) {
	union := maps.Clone(a)
	maps.Copy(union, b)
	var out, held []merkle.Change
	for _, p := range mergePaths(union) {
		old, cur := a[p], b[p]
		switch {
		case cur == nil:
			held = append(held, merkle.Change{Action: merkle.Deleted, Path: p, Old: old})
		case old == nil:
			held = append(held, merkle.Change{Action: merkle.Created, Path: p, New: cur})
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
	counts := [4]int64{int64(len(out)), 0, 0, 0}
	held = merkle.PairMoves(held)
	slices.SortStableFunc(held, func(x, y merkle.Change) int { return merkle.ComparePaths(x.Path, y.Path) })
	for _, c := range held {
		switch c.Action {
		case merkle.Created:
			counts[1]++
		case merkle.Deleted:
			counts[2]++
		case merkle.Moved:
			counts[3]++
		}
	}
	return append(out, held...), counts
}

// mergeTree builds the tree of entries and returns its root hash, handing
// each node to emit if set.
func mergeTree(entries map[string]*merkle.Entry, emit func(merkle.Node) error) (merkle.Hash, error) {
	b := merkle.NewBuilder(emit)
	for _, p := range mergePaths(entries) {
		if err := b.Add(entries[p]); err != nil {
			return merkle.Hash{}, fmt.Errorf("Builder.Add(%s): %w", p, err)
		}
	}
	return b.Finish()
}

func mergePaths(m map[string]*merkle.Entry) []string {
	return slices.SortedFunc(maps.Keys(m), merkle.ComparePaths)
}

func mergeDump(m map[string]*merkle.Entry) []string {
	var out []string
	for _, p := range mergePaths(m) {
		out = append(out, p+":"+m[p].Type.String())
	}
	return out
}

// mergeInput hands out the fuzz input a byte at a time, zeros when it runs
// out.
type mergeInput struct{ b []byte }

func (r *mergeInput) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// mergeNames collide around '/' in ComparePaths order.
var mergeNames = []string{"a", "b", "a-b", "a0", "ab"}

var mergeTypes = []merkle.Type{merkle.TypeDir, merkle.TypeDir, merkle.TypeDir, merkle.TypeFile, merkle.TypeFile, merkle.TypeSymlink, merkle.TypeCharDev}

// mergeEntry makes an entry whose attributes come from one byte: a few
// values for perm, mtime, content, inode (so that some creations and
// deletions pair into moves), hash state and the monitored set.
func mergeEntry(p string, typ merkle.Type, v byte) *merkle.Entry {
	e := &merkle.Entry{Path: p, Type: typ, Perm: 0o600 | uint32(v&1)*0o44, Mtime: int64(v >> 1 & 3), Inode: uint64(v >> 2 & 3), Dev: 1, Nlink: 1}
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

// mergeGenDir adds up to five children of dir, recursing to depth 4.
func mergeGenDir(r *mergeInput, m map[string]*merkle.Entry, dir string, depth int) {
	for range int(r.next() % 6) {
		p := merkle.Join(dir, mergeNames[int(r.next())%len(mergeNames)])
		typ := mergeTypes[int(r.next())%len(mergeTypes)]
		if _, dup := m[p]; dup {
			continue
		}
		if depth >= 4 && typ == merkle.TypeDir {
			typ = merkle.TypeFile
		}
		m[p] = mergeEntry(p, typ, r.next())
		if typ == merkle.TypeDir {
			mergeGenDir(r, m, p, depth+1)
		}
	}
}

// mergeEdit applies up to seven random edits to a copy of a: deletions,
// new attributes, new children, new types.
func mergeEdit(r *mergeInput, a map[string]*merkle.Entry) map[string]*merkle.Entry {
	b := map[string]*merkle.Entry{}
	for p, e := range a {
		c := *e
		b[p] = &c
	}
	deleteSubtree := func(dir string) {
		maps.DeleteFunc(b, func(p string, _ *merkle.Entry) bool { return merkle.Within(p, dir) })
	}
	for range int(r.next() % 8) {
		paths := mergePaths(b)
		p := paths[int(r.next())%len(paths)]
		e := b[p]
		switch r.next() % 4 {
		case 0:
			if p != "/" {
				deleteSubtree(p)
			}
		case 1:
			b[p] = mergeEntry(p, e.Type, r.next())
		case 2:
			if e.Type == merkle.TypeDir {
				depth := 1 // of "/"; 2 for its children
				if p != "/" {
					depth = strings.Count(p, "/") + 1
				}
				mergeGenDir(r, b, p, depth)
			}
		case 3:
			typ := mergeTypes[int(r.next())%len(mergeTypes)]
			if p == "/" {
				typ = merkle.TypeDir
			}
			deleteSubtree(p)
			b[p] = mergeEntry(p, typ, r.next())
		}
	}
	return b
}
