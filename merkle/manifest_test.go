package merkle_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"vigil/merkle"
)

// memStore is a manifest store in memory that counts what is fetched.
type memStore struct {
	raw     map[merkle.Hash][]byte
	fetched int
}

func (s *memStore) Manifest(h merkle.Hash) (*merkle.Manifest, error) {
	b, ok := s.raw[h]
	if !ok {
		return nil, fmt.Errorf("no manifest %x", h[:4])
	}
	s.fetched++
	return merkle.DecodeManifest(b, h, merkle.PortableAttrs)
}

// manifests builds the portable tree of es and stores the manifest of
// every directory, returning the root.
func manifests(t *testing.T, es []*merkle.Entry, s *memStore) merkle.Hash {
	t.Helper()
	kids := map[string][]merkle.Node{}
	b := merkle.NewPortableBuilder(merkle.PortableAttrs, func(n merkle.Node) error {
		if n.Entry.Path != "/" {
			p := merkle.Parent(n.Entry.Path)
			kids[p] = append(kids[p], n)
		}
		if n.Entry.Type == merkle.TypeDir {
			m := merkle.NewManifest(n.Entry, merkle.PortableAttrs, kids[n.Entry.Path])
			raw, err := m.Encode(merkle.PortableAttrs)
			if err != nil {
				return err
			}
			if m.Hash(merkle.PortableAttrs) != n.Hash {
				t.Fatalf("%s: manifest hash differs from the builder's", n.Entry.Path)
			}
			s.raw[n.Hash] = raw
			delete(kids, n.Entry.Path)
		}
		return nil
	})
	for _, e := range es {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// randomTree is a tree of dirs and files in path order.
func randomTree(r *rand.Rand, n int) []*merkle.Entry {
	es := []*merkle.Entry{d("/")}
	var dirs []string
	dirs = append(dirs, "/")
	paths := map[string]bool{}
	for len(paths) < n {
		parent := dirs[r.IntN(len(dirs))]
		name := fmt.Sprintf("%c%d", 'a'+r.IntN(6), r.IntN(4))
		p := strings.TrimSuffix(parent, "/") + "/" + name
		if paths[p] {
			continue
		}
		paths[p] = true
		if r.IntN(4) == 0 {
			dirs = append(dirs, p)
		}
	}
	isDir := map[string]bool{}
	for _, p := range dirs {
		isDir[p] = true
	}
	all := make([]string, 0, len(paths))
	for p := range paths {
		all = append(all, p)
	}
	slices.SortFunc(all, merkle.ComparePaths)
	for _, p := range all {
		if isDir[p] {
			es = append(es, d(p))
		} else {
			es = append(es, f(p))
		}
	}
	return es
}

func clone(es []*merkle.Entry) []*merkle.Entry {
	out := make([]*merkle.Entry, len(es))
	for i, e := range es {
		c := *e
		out[i] = &c
	}
	return out
}

// naive compares two trees path by path, as a full comparison would.
func naive(a, b []*merkle.Entry) []string {
	ma, mb := map[string]*merkle.Entry{}, map[string]*merkle.Entry{}
	for _, e := range a {
		ma[e.Path] = e
	}
	for _, e := range b {
		mb[e.Path] = e
	}
	var out []string
	for p, e := range ma {
		if o, ok := mb[p]; !ok {
			out = append(out, "deleted "+p)
		} else if c, ok := merkle.Modified(e, o); ok {
			out = append(out, c.Action.String()+" "+p)
		}
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			out = append(out, "created "+p)
		}
	}
	slices.Sort(out)
	return out
}

// TestDiffManifests: for random mutation sets on one of two copies, the
// descent over manifests reports exactly what a path-by-path comparison
// does, and fetches no manifest of an unchanged subtree.
func TestDiffManifests(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		a := randomTree(r, 40)
		b := clone(a)
		// Mutate: content, mode, remove a leaf, add a leaf.
		for range 1 + r.IntN(4) {
			i := 1 + r.IntN(len(b)-1)
			switch r.IntN(4) {
			case 0:
				if b[i].Type == merkle.TypeFile {
					b[i].Hash[1] ^= 0xff
				}
			case 1:
				b[i].Perm ^= 0o020
			case 2:
				if b[i].Type == merkle.TypeFile {
					b = slices.Delete(b, i, i+1)
				}
			case 3:
				if b[i].Type == merkle.TypeDir {
					n := f(b[i].Path + "/zz-new")
					j := i + 1
					for j < len(b) && merkle.Within(b[j].Path, b[i].Path) {
						j++
					}
					b = slices.Insert(b, j, n)
				}
			}
		}
		s := &memStore{raw: map[merkle.Hash][]byte{}}
		ra, rb := manifests(t, a, s), manifests(t, b, s)
		s.fetched = 0
		var got []string
		err := merkle.DiffManifests(s, s, ra, rb, func(c merkle.Change) error {
			got = append(got, c.Action.String()+" "+c.Path)
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		slices.Sort(got)
		if want := naive(a, b); !slices.Equal(got, want) {
			t.Fatalf("round %d: descent reports\n%q\nfull comparison\n%q", round, got, want)
		}
		if len(got) == 0 && s.fetched != 0 {
			t.Errorf("round %d: equal trees, %d manifests fetched", round, s.fetched)
		}
	}
}

// TestManifestForged: a manifest edited in the store (a child's mode, its
// hash, a child dropped) does not decode as the node it is stored under.
func TestManifestForged(t *testing.T) {
	s := &memStore{raw: map[merkle.Hash][]byte{}}
	root := manifests(t, tree(), s)
	raw := string(s.raw[root])
	if _, err := merkle.DecodeManifest([]byte(raw), root, merkle.PortableAttrs); err != nil {
		t.Fatalf("the stored manifest does not decode: %v", err)
	}
	var etc merkle.Hash
	m, _ := merkle.DecodeManifest([]byte(raw), root, merkle.PortableAttrs)
	for _, c := range m.Children {
		if c.Name == "etc" {
			etc = c.Hash
		}
	}
	etcRaw := string(s.raw[etc])
	for name, bad := range map[string]string{
		"mode":          strings.Replace(etcRaw, `"mode":420`, `"mode":438`, 1),
		"dropped child": strings.Replace(etcRaw, `{"name":"hosts"`, `{"name":"hostz"`, 1),
		"unknown field": strings.Replace(etcRaw, `{"v":1,`, `{"v":1,"x":1,`, 1),
		"other keep":    strings.Replace(etcRaw, `"keep":["content",`, `"keep":[`, 1),
	} {
		if bad == etcRaw {
			t.Fatalf("%s: the edit did not apply to %s", name, etcRaw)
		}
		if _, err := merkle.DecodeManifest([]byte(bad), etc, merkle.PortableAttrs); !errors.Is(err, merkle.ErrManifest) {
			t.Errorf("%s: DecodeManifest = %v, want ErrManifest", name, err)
		}
	}
}
