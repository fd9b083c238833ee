package merkle

import (
	"encoding/json"
	"errors"
	"fmt"
)

// A Manifest is one directory node of a portable tree, as a fleet stores it
// content-addressed by its node hash: the directory's entry, and its
// children in name order, each with its node hash and, for a child that is
// not a directory, its entry (a directory child's entry is in its own
// manifest). Everything a manifest says is checked against its name by
// [DecodeManifest]: N hosts holding one directory store it once, and a
// reader trusts nothing the store returns.
type Manifest struct {
	Dir      *Entry
	Children []ManifestChild
}

// ManifestChild is one child of a [Manifest].
type ManifestChild struct {
	Name  string
	Hash  Hash
	Entry *Entry // nil for a directory
}

// manifestVersion is the encoding's version; a change of the portable
// hashes changes it.
const manifestVersion = 1

// The JSON form: entries as in proofs (exactly their portable attributes,
// strictly decoded), names as text or base64, hashes as lowercase hex.
type jsonManifest struct {
	V        int                 `json:"v"`
	Keep     []string            `json:"keep"`
	Dir      *jsonEntry          `json:"dir"`
	Children []jsonManifestChild `json:"children"`
}

type jsonManifestChild struct {
	Name       string     `json:"name"`
	NameBase64 string     `json:"name_base64,omitempty"`
	Hash       string     `json:"hash"`
	Entry      *jsonEntry `json:"entry,omitempty"`
}

// portableEntry returns the entry as the portable tree sees it: the
// attributes a copy keeps (see [portable]) and nothing else.
func portableEntry(e *Entry, keep Attr) *Entry {
	pe, mask := portable(e, keep)
	c := *pe
	c.Attrs = mask &^ AttrType
	return &c
}

// NewManifest returns the manifest of directory dir whose children are
// kids (in name order) with their portable node hashes.
func NewManifest(dir *Entry, keep Attr, kids []Node) *Manifest {
	m := &Manifest{Dir: portableEntry(dir, keep)}
	for _, k := range kids {
		c := ManifestChild{Name: k.Entry.Name(), Hash: k.Hash}
		if k.Entry.Type != TypeDir {
			c.Entry = portableEntry(k.Entry, keep)
		}
		m.Children = append(m.Children, c)
	}
	return m
}

// Hash is the manifest's node hash: what it is stored under.
func (m *Manifest) Hash(keep Attr) Hash {
	hs := make([]Hash, len(m.Children))
	for i, c := range m.Children {
		hs[i] = c.Hash
	}
	return PortableDirHash(m.Dir, keep, uint64(len(hs)), ChildRoot(hs))
}

// Encode returns the manifest's JSON form.
func (m *Manifest) Encode(keep Attr) ([]byte, error) {
	j := jsonManifest{V: manifestVersion, Keep: keep.Names(), Dir: toJSONEntry(m.Dir), Children: []jsonManifestChild{}}
	for _, c := range m.Children {
		jc := jsonManifestChild{Hash: hexHash(&c.Hash)}
		jc.Name, jc.NameBase64 = textOrBase64(c.Name)
		if c.Entry != nil {
			jc.Entry = toJSONEntry(c.Entry)
		}
		j.Children = append(j.Children, jc)
	}
	return json.Marshal(j)
}

// ErrManifest means a manifest is not what its name says: damaged, or
// forged by whoever could write the store.
var ErrManifest = errors.New("manifest does not match its node hash")

// DecodeManifest decodes the manifest stored as want and checks it: its
// children in name order, each non-directory child's entry hashing to its
// listed hash and named as listed, and the whole hashing to want.
func DecodeManifest(b []byte, want Hash, keep Attr) (*Manifest, error) {
	fail := func(format string, args ...any) (*Manifest, error) {
		return nil, fmt.Errorf("%w: %x: %s", ErrManifest, want[:8], fmt.Sprintf(format, args...))
	}
	var j jsonManifest
	if err := decodeStrict(b, &j); err != nil {
		return fail("%v", err)
	}
	if j.V != manifestVersion {
		return fail("version %d, want %d", j.V, manifestVersion)
	}
	var k Attr
	for _, n := range j.Keep {
		a, err := ParseAttr(n)
		if err != nil {
			return fail("%v", err)
		}
		k |= a
	}
	if k != keep {
		return fail("made keeping %s, read keeping %s", k, keep)
	}
	dir, err := j.Dir.entry()
	if err != nil {
		return fail("dir: %v", err)
	}
	if dir.Type != TypeDir {
		return fail("%s is a %s, not a directory", dir.Path, dir.Type)
	}
	m := &Manifest{Dir: dir}
	var buf []byte
	for i, jc := range j.Children {
		name, err := fromTextOrBase64(jc.Name, jc.NameBase64)
		if err != nil {
			return fail("child %d: %v", i, err)
		}
		if i > 0 && name <= m.Children[i-1].Name {
			return fail("child %q after %q: not in name order", name, m.Children[i-1].Name)
		}
		c := ManifestChild{Name: name}
		if err := decodeHash(jc.Hash, &c.Hash); err != nil {
			return fail("child %q: %v", name, err)
		}
		if jc.Entry != nil {
			if c.Entry, err = jc.Entry.entry(); err != nil {
				return fail("child %q: %v", name, err)
			}
			if c.Entry.Type == TypeDir || c.Entry.Name() != name || Parent(c.Entry.Path) != dir.Path {
				return fail("child %q: entry %s (%s) does not belong here", name, c.Entry.Path, c.Entry.Type)
			}
			var h Hash
			if h, buf = PortableLeafHash(c.Entry, keep, buf); h != c.Hash {
				return fail("child %q: its entry does not hash to its hash", name)
			}
		}
		m.Children = append(m.Children, c)
	}
	if h := m.Hash(keep); h != want {
		return fail("%s: the manifest hashes to %x", dir.Path, h[:8])
	}
	return m, nil
}
