package engine

import (
	"path"

	"vigil/merkle"
)

// hostSpecific reports whether p is one of the host's own paths (a match
// of one of the patterns of skip).
func hostSpecific(skip []string, p string) bool {
	for _, pat := range skip {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// portableFeed adds entries, in path order, to a portable builder, leaving
// out the host's own paths and, for a directory, its subtree.
type portableFeed struct {
	b        *merkle.Builder
	skip     []string
	skipping string // the directory being left out, with its subtree
}

func (f *portableFeed) Add(e *merkle.Entry) error {
	if f.skipping != "" && merkle.Within(e.Path, f.skipping) {
		return nil
	}
	f.skipping = ""
	if hostSpecific(f.skip, e.Path) {
		if e.Type == merkle.TypeDir {
			f.skipping = e.Path
		}
		return nil
	}
	return f.b.Add(e)
}

// portableTee builds the portable tree beside the attested one, from the
// same entries in the same pass.
type portableTee struct {
	attested *merkle.Builder
	portable *merkle.Builder
	feed     portableFeed
}

func newPortableTee(attested *merkle.Builder, keep merkle.Attr, skip []string) *portableTee {
	t := &portableTee{attested: attested, portable: merkle.NewPortableBuilder(keep, nil)}
	t.feed = portableFeed{b: t.portable, skip: skip}
	return t
}

func (t *portableTee) Add(e *merkle.Entry) error {
	if err := t.attested.Add(e); err != nil {
		return err
	}
	return t.feed.Add(e)
}
