package merkle_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"vigil/merkle"
)

// mth is RFC 6962's Merkle tree hash, written from its recursive
// definition, with ChildRoot's interior hash taken from two-leaf trees.
func mth(t *testing.T, leaves []merkle.Hash) merkle.Hash {
	t.Helper()
	switch len(leaves) {
	case 0:
		return merkle.Hash{}
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return merkle.ChildRoot([]merkle.Hash{mth(t, leaves[:k]), mth(t, leaves[k:])})
}

func TestChildRootShape(t *testing.T) {
	var leaves []merkle.Hash
	for n := range 70 {
		if got, want := merkle.ChildRoot(leaves), mth(t, leaves); got != want {
			t.Errorf("ChildRoot of %d leaves = %x, want RFC 6962 shape %x", n, got, want)
		}
		leaves = append(leaves, seq(byte(n)))
	}
	if merkle.ChildRoot(leaves[:1]) != leaves[0] {
		t.Errorf("ChildRoot of one leaf = %x, want the leaf %x", merkle.ChildRoot(leaves[:1]), leaves[0])
	}
	two := merkle.ChildRoot(leaves[:2])
	if two == leaves[0] || two == leaves[1] || two == (merkle.Hash{}) {
		t.Errorf("ChildRoot of two leaves = %x, want a new hash", two)
	}
}

// proofOf builds the proof of path from a memTree.
func proofOf(t testing.TB, m *memTree, path string) *merkle.Proof {
	t.Helper()
	n := m.nodes[path]
	p := &merkle.Proof{Entry: n.Entry}
	if n.Entry.Type == merkle.TypeDir {
		var kids []merkle.Hash
		for _, k := range m.kids[path] {
			kids = append(kids, k.Hash)
		}
		p.Count, p.Children = uint64(len(kids)), merkle.ChildRoot(kids)
	}
	for child := path; child != "/"; child = merkle.Parent(child) {
		dir := merkle.Parent(child)
		var kids []merkle.Hash
		idx := -1
		for i, k := range m.kids[dir] {
			kids = append(kids, k.Hash)
			if k.Entry.Path == child {
				idx = i
			}
		}
		if idx < 0 {
			t.Fatalf("%s is not a child of %s", child, dir)
		}
		p.Steps = append(p.Steps, merkle.NewStep(m.nodes[dir].Entry, kids, idx))
	}
	return p
}

// FuzzProof checks that the proof of every entry of a random tree leads to
// its root, and that a proof of an entry with any attribute changed, or with
// a wrong index, does not.
func FuzzProof(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 1, 3, 2, 2, 4, 0, 3, 7, 1, 1, 2})
	f.Add([]byte{3, 2, 0, 9, 4, 1, 3, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzReader{b: in}
		entries := map[string]*merkle.Entry{"/": fuzzEntry("/", merkle.TypeDir, r.next())}
		genDir(r, entries, "/", 1)
		m := newMemTree(t, entries)
		root := m.nodes["/"].Hash
		for _, p := range sortedPaths(entries) {
			pr := proofOf(t, m, p)
			if err := pr.Verify(root); err != nil {
				t.Fatalf("proof of %s: %v", p, err)
			}
			forged := *pr
			e := *pr.Entry
			e.Perm ^= 0o4000
			forged.Entry = &e
			if err := forged.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
				t.Errorf("proof of %s with its mode changed: Verify = %v, want ErrBadProof", p, err)
			}
			for i, s := range pr.Steps {
				if s.Count < 2 {
					continue
				}
				bad := *pr
				bad.Steps = append([]merkle.Step(nil), pr.Steps...)
				bad.Steps[i].Index = (s.Index + 1) % s.Count
				if err := bad.Verify(root); err == nil {
					t.Errorf("proof of %s with step %d's index %d -> %d verified", p, i, s.Index, bad.Steps[i].Index)
				}
			}
		}
	})
}

func TestProofMalformed(t *testing.T) {
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/x": f("/a/x"), "/b": f("/b")}
	m := newMemTree(t, entries)
	root := m.nodes["/"].Hash
	pr := proofOf(t, m, "/a/x")
	if len(pr.Steps) != 2 {
		t.Fatalf("proof of /a/x has %d steps, want 2", len(pr.Steps))
	}
	skipped := *pr
	skipped.Steps = pr.Steps[1:]
	if err := skipped.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("proof with a step left out: Verify = %v, want ErrBadProof", err)
	}
	out := *pr
	out.Steps = append([]merkle.Step(nil), pr.Steps...)
	out.Steps[0].Index = out.Steps[0].Count
	if err := out.Verify(root); !errors.Is(err, merkle.ErrBadProof) {
		t.Errorf("proof with an index past the count: Verify = %v, want ErrBadProof", err)
	}
	if got, err := proofOf(t, m, "/").Root(); err != nil || got != root {
		t.Errorf("proof of the root = %x, %v; want %x", got, err, root)
	}
}

// TestProofJSON: a proof survives JSON exactly, odd names and all, and
// still verifies; an edited one does not.
func TestProofJSON(t *testing.T) {
	x := f("/a/\xffodd")
	x.Xattrs = []merkle.Xattr{{Name: "security.capability", Value: []byte{1, 2, 0}}}
	x.Target = "t\xfe"
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/\xffodd": x, "/a/y": f("/a/y"), "/b": f("/b")}
	m := newMemTree(t, entries)
	root := m.nodes["/"].Hash
	for _, p := range []string{"/a/\xffodd", "/a", "/"} {
		raw, err := json.Marshal(proofOf(t, m, p))
		if err != nil {
			t.Fatalf("Marshal proof of %q: %v", p, err)
		}
		var back merkle.Proof
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("Unmarshal proof of %q: %v\n%s", p, err, raw)
		}
		if err := back.Verify(root); err != nil {
			t.Errorf("proof of %q after JSON: %v\n%s", p, err, raw)
		}
		edited := strings.Replace(string(raw), `"uid":0`, `"uid":1`, 1)
		if edited == string(raw) {
			t.Fatalf("proof of %q: no uid to edit in %s", p, raw)
		}
		if err := json.Unmarshal([]byte(edited), &back); err == nil && back.Verify(root) == nil {
			t.Errorf("proof of %q with its uid edited still verifies", p)
		}
	}
}

// TestProofJSONAttestedOnly: a proof's JSON carries exactly what the
// hashes attest: what a rule does not monitor is absent, not zero; it
// decodes into an entry that holds nothing else and encodes again to the
// same bytes.
func TestProofJSONAttestedOnly(t *testing.T) {
	above := d("/a") // as a directory above a root: no times, size, link count
	above.Attrs = merkle.AttrType | merkle.AttrMode | merkle.AttrUID | merkle.AttrGID | merkle.AttrInode | merkle.AttrTarget
	above.Mtime, above.Ctime, above.Nlink, above.Inode = 5, 6, 7, 8
	noContent := f("/a/f")
	noContent.Attrs = merkle.AttrMode | merkle.AttrUID
	noContent.Mtime, noContent.Inode = 9, 10
	dev := &merkle.Entry{Path: "/a/tty", Type: merkle.TypeCharDev, Rdev: 0x501, Attrs: merkle.AttrAll}
	link := &merkle.Entry{Path: "/a/l", Type: merkle.TypeSymlink, Target: "t\xfe", Attrs: merkle.AttrAll, HasFlags: true, Flags: 0x10}
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": above, "/a/f": noContent, "/a/tty": dev, "/a/l": link}
	m := newMemTree(t, entries)
	root := m.nodes["/"].Hash
	for _, tc := range []struct {
		path          string
		absent, shown []string
	}{
		{"/a/f", []string{"hash_state", "hash", "size", "mtime_ns", "inode", "gid", "xattrs", "target", "flags"}, []string{"mode", "uid"}},
		{"/a/tty", []string{"hash_state", "hash"}, []string{"rdev", "size", "target", "flags"}},
		{"/a/l", []string{"hash_state", "rdev"}, []string{"target", "target_base64", "has_flags", "flags", "xattrs"}},
	} {
		raw, err := json.Marshal(proofOf(t, m, tc.path))
		if err != nil {
			t.Fatalf("Marshal proof of %s: %v", tc.path, err)
		}
		var doc struct {
			Entry map[string]json.RawMessage `json:"entry"`
			Steps []struct {
				Dir map[string]json.RawMessage `json:"dir"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.absent {
			if _, ok := doc.Entry[k]; ok {
				t.Errorf("proof of %s carries %q, which its rule does not attest: %s", tc.path, k, raw)
			}
		}
		for _, k := range tc.shown {
			if _, ok := doc.Entry[k]; !ok {
				t.Errorf("proof of %s lacks %q, which its rule attests: %s", tc.path, k, raw)
			}
		}
		for _, k := range []string{"size", "mtime_ns", "ctime_ns", "nlink"} {
			if _, ok := doc.Steps[0].Dir[k]; ok {
				t.Errorf("proof of %s: directory /a carries %q, which is not attested: %s", tc.path, k, raw)
			}
		}
		var back merkle.Proof
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("Unmarshal proof of %s: %v\n%s", tc.path, err, raw)
		}
		if err := back.Verify(root); err != nil {
			t.Errorf("proof of %s after JSON: %v", tc.path, err)
		}
		if back.Steps[0].Dir.Mtime != 0 || back.Steps[0].Dir.Nlink != 0 || back.Entry.Inode != 0 && tc.path == "/a/f" {
			t.Errorf("proof of %s after JSON holds unattested values: dir %+v, entry %+v", tc.path, back.Steps[0].Dir, back.Entry)
		}
		again, err := json.Marshal(&back)
		if err != nil || string(again) != string(raw) {
			t.Errorf("proof of %s encodes again to\n%s (%v), want\n%s", tc.path, again, err, raw)
		}
	}
}

// TestProofJSONStrict: each way of writing a proof other than MarshalJSON's
// is refused by UnmarshalJSON, even where the hashes would still verify.
func TestProofJSONStrict(t *testing.T) {
	x := f("/a/x")
	x.Attrs = merkle.AttrAll &^ merkle.AttrSize
	x.Xattrs = []merkle.Xattr{{Name: "user.a", Value: []byte{1, 2}}}
	odd := f("/a/\xffodd")
	entries := map[string]*merkle.Entry{"/": d("/"), "/a": d("/a"), "/a/x": x, "/a/\xffodd": odd}
	m := newMemTree(t, entries)
	raw, err := json.Marshal(proofOf(t, m, "/a/x"))
	if err != nil {
		t.Fatal(err)
	}
	rawOdd, err := json.Marshal(proofOf(t, m, "/a/\xffodd"))
	if err != nil {
		t.Fatal(err)
	}
	s, so := string(raw), string(rawOdd)
	for _, tc := range []struct{ name, from, old, new string }{
		{"unknown field", s, `"type":"file"`, `"type":"file","note":1`},
		{"unattested size", s, `"mtime_ns"`, `"size":3,"mtime_ns"`},
		{"attested mode missing", s, `"mode":420,`, ``},
		{"monitored out of order", s, `"monitored":["content","type"`, `"monitored":["type","content"`},
		{"monitored as all", s, `"monitored":["content","type","mode","uid","gid","size","mtime","ctime","inode","nlink","xattrs","target","flags"]`,
			`"monitored":["all"]`},
		{"hash in upper case", s, `"hash":"0`, `"hash":"0`},
		{"xattr value not canonical base64", s, `"value":"AQI="`, `"value":"AQJ="`},
		{"path as base64 though UTF-8", s, `"path":"/a/x"`, `"path":"","path_base64":"L2Evfg=="`},
		{"text beside base64", so, `"path":"","path_base64"`, `"path":"/a/x","path_base64"`},
		{"steps missing", s, `,"steps":[`, `,"nosteps":[`},
		{"count of a file", s, `"steps":`, `"count":0,"steps":`},
		{"hash state of a directory", s, `"type":"dir","monitored":["content","type",`, `"type":"dir","hash_state":"none","monitored":["content","type",`},
		{"two values", s, s, s + `{}`},
	} {
		edited := strings.Replace(tc.from, tc.old, tc.new, 1)
		if tc.name == "hash in upper case" {
			edited = upperHash(t, tc.from)
		}
		if edited == tc.from {
			t.Errorf("%s: the edit does not apply to %s", tc.name, tc.from)
			continue
		}
		var back merkle.Proof
		if err := json.Unmarshal([]byte(edited), &back); err == nil {
			t.Errorf("%s: Unmarshal(%s) accepted it", tc.name, edited)
		}
	}
}

// upperHash returns s with its first content hash in upper case.
func upperHash(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, `"hash":"`)
	if i < 0 {
		t.Fatalf("no hash in %s", s)
	}
	i += len(`"hash":"`)
	return s[:i] + strings.ToUpper(s[i:i+64]) + s[i+64:]
}
