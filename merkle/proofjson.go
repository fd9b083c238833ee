package merkle

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The JSON form of a proof carries every attested attribute exactly, so
// that the proof can be checked with nothing but itself and the root.
// Paths and symlink targets that are not UTF-8 go as base64 in a sibling
// field ("path_base64"), hashes as hex, xattr values as base64.

type jsonEntry struct {
	Path         string      `json:"path"`
	PathBase64   string      `json:"path_base64,omitempty"`
	Type         string      `json:"type"`
	Attrs        []string    `json:"monitored"`
	Perm         uint32      `json:"mode"`
	UID          uint32      `json:"uid"`
	GID          uint32      `json:"gid"`
	Size         int64       `json:"size"`
	Mtime        int64       `json:"mtime_ns"`
	Ctime        int64       `json:"ctime_ns"`
	Inode        uint64      `json:"inode"`
	Nlink        uint64      `json:"nlink"`
	Rdev         uint64      `json:"rdev,omitempty"`
	Target       string      `json:"target,omitempty"`
	TargetBase64 string      `json:"target_base64,omitempty"`
	Xattrs       []jsonXattr `json:"xattrs,omitempty"`
	Flags        uint32      `json:"flags"`
	HasFlags     bool        `json:"has_flags"`
	HashState    string      `json:"hash_state"`
	Hash         string      `json:"hash,omitempty"`
}

type jsonXattr struct {
	Name       string `json:"name"`
	NameBase64 string `json:"name_base64,omitempty"`
	Value      []byte `json:"value"`
}

type jsonStep struct {
	Dir   jsonEntry `json:"dir"`
	Count uint64    `json:"count"`
	Index uint64    `json:"index"`
	Path  []string  `json:"path"`
}

type jsonProof struct {
	Entry    jsonEntry  `json:"entry"`
	Count    uint64     `json:"count,omitempty"`
	Children string     `json:"children,omitempty"`
	Steps    []jsonStep `json:"steps"`
}

func textOrBase64(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(s))
}

func fromTextOrBase64(text, b64 string) (string, error) {
	if b64 == "" {
		return text, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return string(b), err
}

func toJSONEntry(e *Entry) jsonEntry {
	j := jsonEntry{Type: e.Type.String(), Attrs: e.Attrs.Names(), Perm: e.Perm, UID: e.UID, GID: e.GID,
		Size: e.Size, Mtime: e.Mtime, Ctime: e.Ctime, Inode: e.Inode, Nlink: e.Nlink, Rdev: e.Rdev,
		Flags: e.Flags, HasFlags: e.HasFlags, HashState: e.HashState.String()}
	j.Path, j.PathBase64 = textOrBase64(e.Path)
	j.Target, j.TargetBase64 = textOrBase64(e.Target)
	if e.HashState == HashOK {
		j.Hash = hex.EncodeToString(e.Hash[:])
	}
	for _, x := range e.Xattrs {
		jx := jsonXattr{Value: x.Value}
		jx.Name, jx.NameBase64 = textOrBase64(x.Name)
		j.Xattrs = append(j.Xattrs, jx)
	}
	return j
}

func (j jsonEntry) entry() (*Entry, error) {
	e := &Entry{Perm: j.Perm, UID: j.UID, GID: j.GID, Size: j.Size, Mtime: j.Mtime, Ctime: j.Ctime,
		Inode: j.Inode, Nlink: j.Nlink, Rdev: j.Rdev, Flags: j.Flags, HasFlags: j.HasFlags}
	var err error
	if e.Path, err = fromTextOrBase64(j.Path, j.PathBase64); err != nil {
		return nil, err
	}
	if e.Target, err = fromTextOrBase64(j.Target, j.TargetBase64); err != nil {
		return nil, err
	}
	if e.Type, err = parseName[Type](j.Type, typeNames[:], "type"); err != nil {
		return nil, err
	}
	hs, err := parseName[HashState](j.HashState, hashStateNames[:], "hash state")
	if err != nil {
		return nil, err
	}
	e.HashState = HashState(hs)
	for _, n := range j.Attrs {
		a, err := ParseAttr(n)
		if err != nil {
			return nil, err
		}
		e.Attrs |= a
	}
	if e.HashState == HashOK {
		h, err := hex.DecodeString(j.Hash)
		if err != nil || len(h) != len(e.Hash) {
			return nil, fmt.Errorf("%s: bad content hash %q", e.Path, j.Hash)
		}
		copy(e.Hash[:], h)
	}
	for _, jx := range j.Xattrs {
		name, err := fromTextOrBase64(jx.Name, jx.NameBase64)
		if err != nil {
			return nil, err
		}
		e.Xattrs = append(e.Xattrs, Xattr{Name: name, Value: jx.Value})
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

// MarshalJSON implements json.Marshaler.
func (p *Proof) MarshalJSON() ([]byte, error) {
	j := jsonProof{Entry: toJSONEntry(p.Entry), Steps: []jsonStep{}}
	if p.Entry.Type == TypeDir {
		j.Count, j.Children = p.Count, hex.EncodeToString(p.Children[:])
	}
	for _, s := range p.Steps {
		js := jsonStep{Dir: toJSONEntry(s.Dir), Count: s.Count, Index: s.Index, Path: []string{}}
		for _, h := range s.Path {
			js.Path = append(js.Path, hex.EncodeToString(h[:]))
		}
		j.Steps = append(j.Steps, js)
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Proof) UnmarshalJSON(b []byte) error {
	var j jsonProof
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	e, err := j.Entry.entry()
	if err != nil {
		return fmt.Errorf("proof entry: %w", err)
	}
	*p = Proof{Entry: e, Count: j.Count}
	if e.Type == TypeDir {
		if err := decodeHash(j.Children, &p.Children); err != nil {
			return err
		}
	}
	for i, js := range j.Steps {
		d, err := js.Dir.entry()
		if err != nil {
			return fmt.Errorf("proof step %d: %w", i, err)
		}
		s := Step{Dir: d, Count: js.Count, Index: js.Index}
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

func decodeHash(s string, h *Hash) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return nil
}
