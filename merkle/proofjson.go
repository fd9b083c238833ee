package merkle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// The JSON form of a proof carries exactly the attested attributes of each
// entry (what [AppendAttested] encodes for its mask) and nothing else, so
// that every value it shows is one the root commits to: an attribute that
// is not monitored is absent, not zero. Paths and symlink targets that are
// not UTF-8 go as base64 in a sibling field ("path_base64"), hashes as
// lowercase hex, xattr values as base64. Decoding is strict: an unknown
// field, an attested attribute missing, an unattested one present, a list
// of monitored attributes not in canonical order, a hash or base64 value
// not in canonical form are each refused, so that an edit of any value
// fails to decode or fails [Proof.Verify].

type jsonEntry struct {
	Path         string       `json:"path"`
	PathBase64   string       `json:"path_base64,omitempty"`
	Type         string       `json:"type"`
	Attrs        []string     `json:"monitored"`
	HashState    *string      `json:"hash_state,omitempty"`
	Hash         *string      `json:"hash,omitempty"`
	Rdev         *uint64      `json:"rdev,omitempty"`
	Perm         *uint32      `json:"mode,omitempty"`
	UID          *uint32      `json:"uid,omitempty"`
	GID          *uint32      `json:"gid,omitempty"`
	Size         *int64       `json:"size,omitempty"`
	Mtime        *int64       `json:"mtime_ns,omitempty"`
	Ctime        *int64       `json:"ctime_ns,omitempty"`
	Inode        *uint64      `json:"inode,omitempty"`
	Nlink        *uint64      `json:"nlink,omitempty"`
	Xattrs       *[]jsonXattr `json:"xattrs,omitempty"`
	Target       *string      `json:"target,omitempty"`
	TargetBase64 *string      `json:"target_base64,omitempty"`
	HasFlags     *bool        `json:"has_flags,omitempty"`
	Flags        *uint32      `json:"flags,omitempty"`
}

type jsonXattr struct {
	Name       string `json:"name"`
	NameBase64 string `json:"name_base64,omitempty"`
	Value      string `json:"value"` // base64
}

type jsonStep struct {
	Dir   *jsonEntry `json:"dir"`
	Count *uint64    `json:"count"`
	Index *uint64    `json:"index"`
	Path  []string   `json:"path"`
}

type jsonProof struct {
	Entry    *jsonEntry `json:"entry"`
	Count    *uint64    `json:"count,omitempty"`
	Children *string    `json:"children,omitempty"`
	Steps    []jsonStep `json:"steps"`
}

func textOrBase64(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(s))
}

// fromTextOrBase64 is the inverse of textOrBase64; it accepts only what
// textOrBase64 makes.
func fromTextOrBase64(text, b64 string) (string, error) {
	if b64 == "" {
		return text, nil
	}
	b, err := decodeBase64(b64)
	if err != nil || text != "" || utf8.Valid(b) {
		return "", fmt.Errorf("bad base64 name %q: want it only for a name that is not UTF-8, with no text beside it", b64)
	}
	return string(b), nil
}

// decodeBase64 decodes standard base64 in its canonical form only.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("bad base64 %q", s)
	}
	return b, nil
}

func ptr[T any](v T) *T { return &v }

func hexHash(h *Hash) string { return hex.EncodeToString(h[:]) }

// contentFields says which fields attest the content of an entry of type t:
// a file's hash state (and hash), a device node's rdev, nothing else.
func contentFields(t Type) (hashState, rdev bool) {
	return t == TypeFile, t == TypeCharDev || t == TypeBlockDev
}

func toJSONEntry(e *Entry) *jsonEntry {
	mask := e.Attrs | AttrType
	j := &jsonEntry{Type: e.Type.String(), Attrs: mask.Names()}
	j.Path, j.PathBase64 = textOrBase64(e.Path)
	if mask.Has(AttrContent) {
		hs, rdev := contentFields(e.Type)
		if hs {
			j.HashState = ptr(e.HashState.String())
			if e.HashState == HashOK {
				j.Hash = ptr(hexHash(&e.Hash))
			}
		}
		if rdev {
			j.Rdev = ptr(e.Rdev)
		}
	}
	set := func(a Attr, f func()) {
		if mask.Has(a) {
			f()
		}
	}
	set(AttrMode, func() { j.Perm = ptr(e.Perm) })
	set(AttrUID, func() { j.UID = ptr(e.UID) })
	set(AttrGID, func() { j.GID = ptr(e.GID) })
	set(AttrSize, func() { j.Size = ptr(e.Size) })
	set(AttrMtime, func() { j.Mtime = ptr(e.Mtime) })
	set(AttrCtime, func() { j.Ctime = ptr(e.Ctime) })
	set(AttrInode, func() { j.Inode = ptr(e.Inode) })
	set(AttrNlink, func() { j.Nlink = ptr(e.Nlink) })
	set(AttrXattrs, func() {
		xs := []jsonXattr{}
		for _, x := range e.Xattrs {
			jx := jsonXattr{Value: base64.StdEncoding.EncodeToString(x.Value)}
			jx.Name, jx.NameBase64 = textOrBase64(x.Name)
			xs = append(xs, jx)
		}
		j.Xattrs = &xs
	})
	set(AttrTarget, func() {
		t, b := textOrBase64(e.Target)
		j.Target = &t
		if b != "" {
			j.TargetBase64 = &b
		}
	})
	set(AttrFlags, func() { j.HasFlags, j.Flags = ptr(e.HasFlags), ptr(e.Flags) })
	return j
}

// presence checks that a field is present exactly when it is attested.
func presence(attested, present bool, name string) error {
	switch {
	case attested && !present:
		return fmt.Errorf("%s is attested but missing", name)
	case !attested && present:
		return fmt.Errorf("%s is not attested: a proof must not carry it", name)
	}
	return nil
}

// get returns *p, or the zero value when p is nil.
func get[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

func (j *jsonEntry) entry() (*Entry, error) {
	if j == nil {
		return nil, errors.New("missing entry")
	}
	e := &Entry{}
	var err error
	if e.Path, err = fromTextOrBase64(j.Path, j.PathBase64); err != nil {
		return nil, err
	}
	if !ValidPath(e.Path) {
		return nil, fmt.Errorf("%q: %w", e.Path, ErrNotAbs)
	}
	fail := func(err error) (*Entry, error) { return nil, fmt.Errorf("%s: %w", e.Path, err) }
	if e.Type, err = parseName[Type](j.Type, typeNames[:], "type"); err != nil {
		return fail(err)
	}
	for _, n := range j.Attrs {
		a, err := ParseAttr(n)
		if err != nil {
			return fail(err)
		}
		e.Attrs |= a
	}
	mask := e.Attrs | AttrType
	if !slices.Equal(j.Attrs, mask.Names()) {
		return fail(fmt.Errorf("monitored %q: want the attribute names in canonical order, with type: %q", j.Attrs, mask.Names()))
	}
	hs, rdev := contentFields(e.Type)
	hs, rdev = hs && mask.Has(AttrContent), rdev && mask.Has(AttrContent)
	if hs && j.HashState != nil {
		s, err := parseName[HashState](*j.HashState, hashStateNames[:], "hash state")
		if err != nil {
			return fail(err)
		}
		e.HashState = s
	}
	errs := []error{
		presence(hs, j.HashState != nil, "hash_state"),
		presence(e.HashState == HashOK, j.Hash != nil, "hash"),
		presence(rdev, j.Rdev != nil, "rdev"),
		presence(mask.Has(AttrMode), j.Perm != nil, "mode"),
		presence(mask.Has(AttrUID), j.UID != nil, "uid"),
		presence(mask.Has(AttrGID), j.GID != nil, "gid"),
		presence(mask.Has(AttrSize), j.Size != nil, "size"),
		presence(mask.Has(AttrMtime), j.Mtime != nil, "mtime_ns"),
		presence(mask.Has(AttrCtime), j.Ctime != nil, "ctime_ns"),
		presence(mask.Has(AttrInode), j.Inode != nil, "inode"),
		presence(mask.Has(AttrNlink), j.Nlink != nil, "nlink"),
		presence(mask.Has(AttrXattrs), j.Xattrs != nil, "xattrs"),
		presence(mask.Has(AttrTarget), j.Target != nil, "target"),
		presence(mask.Has(AttrFlags), j.HasFlags != nil, "has_flags"),
		presence(mask.Has(AttrFlags), j.Flags != nil, "flags"),
	}
	if j.TargetBase64 != nil && (j.Target == nil || *j.TargetBase64 == "") {
		errs = append(errs, errors.New("target_base64 goes only beside an attested target, for one that is not UTF-8"))
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if j.Hash != nil {
		if err := decodeHash(*j.Hash, &e.Hash); err != nil {
			return fail(err)
		}
	}
	e.Rdev, e.Perm, e.UID, e.GID = get(j.Rdev), get(j.Perm), get(j.UID), get(j.GID)
	e.Size, e.Mtime, e.Ctime = get(j.Size), get(j.Mtime), get(j.Ctime)
	e.Inode, e.Nlink, e.HasFlags, e.Flags = get(j.Inode), get(j.Nlink), get(j.HasFlags), get(j.Flags)
	if j.Target != nil {
		if e.Target, err = fromTextOrBase64(*j.Target, get(j.TargetBase64)); err != nil {
			return fail(err)
		}
	}
	for _, jx := range get(j.Xattrs) {
		name, err := fromTextOrBase64(jx.Name, jx.NameBase64)
		if err != nil {
			return fail(err)
		}
		v, err := decodeBase64(jx.Value)
		if err != nil {
			return fail(fmt.Errorf("xattr %q: %w", name, err))
		}
		e.Xattrs = append(e.Xattrs, Xattr{Name: name, Value: v})
	}
	return e, nil
}

func parseName[T ~uint8](s string, names []string, what string) (T, error) {
	for i, n := range names {
		if n == s {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q", what, s)
}

// MarshalJSON implements json.Marshaler: the entry and each directory on
// the way up with exactly their attested attributes.
func (p *Proof) MarshalJSON() ([]byte, error) {
	j := jsonProof{Entry: toJSONEntry(p.Entry), Steps: []jsonStep{}}
	if p.Entry.Type == TypeDir {
		j.Count, j.Children = ptr(p.Count), ptr(hexHash(&p.Children))
	}
	for _, s := range p.Steps {
		js := jsonStep{Dir: toJSONEntry(s.Dir), Count: ptr(s.Count), Index: ptr(s.Index), Path: []string{}}
		for _, h := range s.Path {
			js.Path = append(js.Path, hexHash(&h))
		}
		j.Steps = append(j.Steps, js)
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler. It refuses unknown fields,
// missing ones, attributes that are not attested and values not in the
// form [Proof.MarshalJSON] writes them in (see the package's JSON notes).
// It checks the form, not the hashes: call [Proof.Verify].
func (p *Proof) UnmarshalJSON(b []byte) error {
	var j jsonProof
	if err := decodeStrict(b, &j); err != nil {
		return fmt.Errorf("proof: %w", err)
	}
	e, err := j.Entry.entry()
	if err != nil {
		return fmt.Errorf("proof entry: %w", err)
	}
	dir := e.Type == TypeDir
	if err := errors.Join(presence(dir, j.Count != nil, "count"), presence(dir, j.Children != nil, "children")); err != nil {
		return fmt.Errorf("proof entry %s: %w", e.Path, err)
	}
	*p = Proof{Entry: e, Count: get(j.Count)}
	if dir {
		if err := decodeHash(*j.Children, &p.Children); err != nil {
			return fmt.Errorf("proof entry %s: %w", e.Path, err)
		}
	}
	if j.Steps == nil {
		return errors.New("proof: missing steps")
	}
	for i, js := range j.Steps {
		d, err := js.Dir.entry()
		if err == nil && (js.Count == nil || js.Index == nil || js.Path == nil) {
			err = errors.New("a step needs dir, count, index and path")
		}
		if err != nil {
			return fmt.Errorf("proof step %d: %w", i, err)
		}
		s := Step{Dir: d, Count: *js.Count, Index: *js.Index}
		for _, hs := range js.Path {
			var h Hash
			if err := decodeHash(hs, &h); err != nil {
				return fmt.Errorf("proof step %d: %w", i, err)
			}
			s.Path = append(s.Path, h)
		}
		p.Steps = append(p.Steps, s)
	}
	return nil
}

// decodeStrict decodes exactly one JSON value from b into v, refusing
// unknown fields and anything but white space after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value (offset %d)", dec.InputOffset())
	}
	return nil
}

// decodeHash decodes a hash in lowercase hex.
func decodeHash(s string, h *Hash) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) || hex.EncodeToString(b) != s {
		return fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return nil
}
