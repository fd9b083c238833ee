package nixtree

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zeebo/blake3"

	"vigil/internal/nix"
	"vigil/merkle"
)

// recordHeader is the first line of every canonical record ([EncodeRecord]):
// it names the format and keeps a record's content apart from any other
// value a vigil tree hashes (a posture value, a file's bytes).
const recordHeader = "vigil nix record v1"

// Leaf is one leaf of the Nix tree: a store path and its canonical record
// ([EncodeRecord]).
type Leaf struct {
	Path string
	Data []byte
}

// EncodeRecord returns the canonical record of store path p: one field a
// line, strings quoted (Go syntax, ASCII), every field always present but
// the repeated sig and ref lines. valid says the database lists p (else
// rec is zero: a path only the closure names); closure that the sealed
// system closure holds it. [DecodeRecord] accepts exactly this text.
func EncodeRecord(p string, rec nix.Record, valid, closure bool) []byte {
	return AppendRecord(make([]byte, 0, 256+len(rec.Sigs)*128+len(rec.Refs)*64), p, rec, valid, closure)
}

// AppendRecord appends the canonical record of p to b ([EncodeRecord]).
func AppendRecord(b []byte, p string, rec nix.Record, valid, closure bool) []byte {
	b = append(b, recordHeader+"\npath "...)
	b = appendQuoted(b, p)
	b = append(b, "\nvalid "...)
	b = strconv.AppendBool(b, valid)
	b = append(b, "\nclosure "...)
	b = strconv.AppendBool(b, closure)
	b = append(b, "\nhash "...)
	b = appendQuoted(b, rec.Hash)
	b = append(b, "\nnar_size "...)
	b = strconv.AppendInt(b, rec.NARSize, 10)
	b = append(b, "\nregistration_time "...)
	b = strconv.AppendInt(b, rec.RegistrationTime, 10)
	b = append(b, "\nultimate "...)
	b = strconv.AppendBool(b, rec.Ultimate)
	b = append(b, "\nca "...)
	b = appendQuoted(b, rec.CA)
	b = append(b, '\n')
	for _, s := range rec.Sigs {
		b = append(b, "sig "...)
		b = appendQuoted(b, s)
		b = append(b, '\n')
	}
	for _, r := range rec.Refs {
		b = append(b, "ref "...)
		b = appendQuoted(b, r)
		b = append(b, '\n')
	}
	b = append(b, "stat "...)
	b = hex.AppendEncode(b, rec.Stat[:])
	return append(b, '\n')
}

// appendQuoted appends s quoted as strconv.QuoteToASCII quotes it, with
// a fast path for the plain ASCII of store paths, hashes and signatures.
func appendQuoted(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return strconv.AppendQuoteToASCII(b, s)
}

// plain reports whether s is printable ASCII without a quote or a
// backslash: what quoting leaves as it is.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// unquote is strconv.Unquote with a fast path for plain strings.
func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && plain(v[1:len(v)-1]) {
		return v[1 : len(v)-1], nil
	}
	return strconv.Unquote(v)
}

// DecodedRecord is what a canonical record says.
type DecodedRecord struct {
	Path    string
	Record  nix.Record
	Valid   bool
	Closure bool
}

// DecodeRecord reads a canonical record; anything but the exact text
// [EncodeRecord] gives for the values it holds is refused.
func DecodeRecord(data []byte) (DecodedRecord, error) {
	var d DecodedRecord
	lines := strings.Split(string(data), "\n")
	i := 0
	next := func(key string) (string, bool) {
		if i >= len(lines) {
			return "", false
		}
		v, ok := strings.CutPrefix(lines[i], key+" ")
		if ok {
			i++
		}
		return v, ok
	}
	var errs []string
	quoted := func(key string, dst *string) {
		v, ok := next(key)
		s, err := unquote(v)
		if !ok || err != nil {
			errs = append(errs, key)
		}
		*dst = s
	}
	boolean := func(key string, dst *bool) {
		v, ok := next(key)
		b, err := strconv.ParseBool(v)
		if !ok || err != nil {
			errs = append(errs, key)
		}
		*dst = b
	}
	integer := func(key string, dst *int64) {
		v, ok := next(key)
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			errs = append(errs, key)
		}
		*dst = n
	}
	if len(lines) == 0 || lines[0] != recordHeader {
		return d, fmt.Errorf("nix record: %w: want %q first", merkle.ErrBadProof, recordHeader)
	}
	i = 1
	r := &d.Record
	quoted("path", &d.Path)
	boolean("valid", &d.Valid)
	boolean("closure", &d.Closure)
	quoted("hash", &r.Hash)
	integer("nar_size", &r.NARSize)
	integer("registration_time", &r.RegistrationTime)
	boolean("ultimate", &r.Ultimate)
	quoted("ca", &r.CA)
	for _, l := range []struct {
		key string
		dst *[]string
	}{{"sig", &r.Sigs}, {"ref", &r.Refs}} {
		for i < len(lines) && strings.HasPrefix(lines[i], l.key+" ") {
			var s string
			quoted(l.key, &s)
			*l.dst = append(*l.dst, s)
		}
	}
	if v, ok := next("stat"); !ok || hex.DecodedLen(len(v)) != len(r.Stat) {
		errs = append(errs, "stat")
	} else if _, err := hex.Decode(r.Stat[:], []byte(v)); err != nil {
		errs = append(errs, "stat")
	}
	if len(errs) > 0 {
		return DecodedRecord{}, fmt.Errorf("nix record: bad %s", strings.Join(errs, ", "))
	}
	if !bytes.Equal(EncodeRecord(d.Path, d.Record, d.Valid, d.Closure), data) {
		return DecodedRecord{}, errors.New("nix record: not in canonical form")
	}
	return d, nil
}

// Leaves returns the leaves of the Nix tree of s, in path order: one per
// valid path and one per closure path the database does not list (the
// closure taken as a set: its order and repeats do not matter).
func Leaves(s nix.Snapshot) []Leaf {
	closure := s.Closure
	if !slices.IsSortedFunc(closure, func(a, b string) int { return cmpStrict(a, b) }) {
		closure = slices.Compact(slices.Sorted(slices.Values(closure))) // a copy
	}
	paths := nix.SortedKeys(s.Paths)
	for _, p := range closure {
		if _, ok := s.Paths[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	out := make([]Leaf, len(paths))
	for i, p := range paths {
		rec, valid := s.Paths[p]
		_, inClosure := slices.BinarySearch(closure, p)
		out[i] = Leaf{Path: p, Data: EncodeRecord(p, rec, valid, inClosure)}
	}
	return out
}

// SnapshotOf returns the snapshot the leaves record: the inverse of
// [Leaves]. A leaf whose record does not decode, or names
// another path than the leaf's, is an error naming the path.
func SnapshotOf(leaves []Leaf) (nix.Snapshot, error) {
	s := nix.Snapshot{Paths: make(map[string]nix.Record, len(leaves))}
	for _, l := range leaves {
		d, err := DecodeRecord(l.Data)
		if err == nil && d.Path != l.Path {
			err = fmt.Errorf("the record is of %s", d.Path)
		}
		if err != nil {
			return nix.Snapshot{}, fmt.Errorf("%s: %w", l.Path, err)
		}
		if d.Valid {
			s.Paths[l.Path] = d.Record
		}
		if d.Closure {
			s.Closure = append(s.Closure, l.Path)
		}
	}
	slices.Sort(s.Closure)
	return s, nil
}

// cmpStrict orders strictly: equal strings compare as out of order, so
// that IsSortedFunc with it means sorted without repeats.
func cmpStrict(a, b string) int {
	if a == b {
		return 1
	}
	return strings.Compare(a, b)
}

// treeDir is the Nix tree's root directory entry.
func treeDir() *merkle.Entry {
	return &merkle.Entry{Path: "/", Type: merkle.TypeDir, Attrs: merkle.AttrType}
}

// LeafEntry returns the merkle entry of a leaf: a file below "/" named by
// the store path's base name, whose content hash is BLAKE3 over the
// canonical record and whose size is the record's. Its node hash is
// merkle's leaf hash, under the tag every leaf has; the record's own first
// line keeps it apart from any other content.
func LeafEntry(l Leaf) *merkle.Entry {
	return &merkle.Entry{
		Path: "/" + strings.TrimPrefix(l.Path, nix.StoreDir+"/"), Type: merkle.TypeFile, Size: int64(len(l.Data)),
		Hash: blake3.Sum256(l.Data), HashState: merkle.HashOK, Attrs: merkle.AttrContent | merkle.AttrSize,
	}
}

// checkLeaves checks that leaves are store paths in strictly increasing
// order.
func checkLeaves(leaves []Leaf) error {
	for i, l := range leaves {
		name, ok := strings.CutPrefix(l.Path, nix.StoreDir+"/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("%s: %w", l.Path, nix.ErrNotStorePath)
		}
		if i > 0 && leaves[i-1].Path >= l.Path {
			return fmt.Errorf("%s: %w", l.Path, merkle.ErrUnsorted)
		}
	}
	return nil
}

// TreeRoot returns the root of the Nix tree of leaves (in path order, as
// [Leaves] gives them): a directory "/" holding one [LeafEntry]
// per leaf.
func TreeRoot(leaves []Leaf) (merkle.Hash, error) {
	if err := checkLeaves(leaves); err != nil {
		return merkle.Hash{}, err
	}
	d := merkle.NewDirHasher(treeDir())
	var buf []byte
	for _, l := range leaves {
		var h merkle.Hash
		h, buf = merkle.LeafHash(LeafEntry(l), buf)
		d.Add(h)
	}
	return d.Sum(), nil
}

// ProveRecord returns the proof that the record of store path p is a leaf
// of the Nix tree of leaves: merkle's proof of one child of the root,
// log2(len(leaves)) hashes. [VerifyRecord] checks it.
func ProveRecord(leaves []Leaf, p string) (*merkle.Proof, []byte, error) {
	if err := checkLeaves(leaves); err != nil {
		return nil, nil, err
	}
	i, ok := slices.BinarySearchFunc(leaves, p, func(l Leaf, p string) int { return strings.Compare(l.Path, p) })
	if !ok {
		return nil, nil, fmt.Errorf("%s: %w", p, ErrNoRecord)
	}
	hashes := make([]merkle.Hash, len(leaves))
	var buf []byte
	for j, l := range leaves {
		hashes[j], buf = merkle.LeafHash(LeafEntry(l), buf)
	}
	pf := &merkle.Proof{Entry: LeafEntry(leaves[i]), Steps: []merkle.Step{merkle.NewStep(treeDir(), hashes, i)}}
	return pf, leaves[i].Data, nil
}

// VerifyRecord checks that pf proves the canonical record data in the Nix
// tree whose root is root (what a baseline's signed statement carries),
// and returns what the record says.
func VerifyRecord(pf *merkle.Proof, root merkle.Hash, data []byte) (DecodedRecord, error) {
	d, err := DecodeRecord(data)
	if err != nil {
		return DecodedRecord{}, fmt.Errorf("%w: %w", merkle.ErrBadProof, err)
	}
	want := LeafEntry(Leaf{Path: d.Path, Data: data})
	if pf.Entry == nil || pf.Entry.Path != want.Path || pf.Entry.Type != merkle.TypeFile ||
		pf.Entry.Hash != want.Hash || merkle.Compare(pf.Entry, want) != 0 || pf.Entry.Attrs|merkle.AttrType != want.Attrs|merkle.AttrType {
		return DecodedRecord{}, fmt.Errorf("nix: the proof is not of the record of %s: %w", d.Path, merkle.ErrBadProof)
	}
	if len(pf.Steps) != 1 || pf.Steps[0].Dir == nil || merkle.Compare(pf.Steps[0].Dir, treeDir()) != 0 ||
		pf.Steps[0].Dir.Path != "/" {
		return DecodedRecord{}, fmt.Errorf("nix: the proof of %s does not stand below the Nix tree's root: %w", d.Path, merkle.ErrBadProof)
	}
	if err := pf.Verify(root); err != nil {
		return DecodedRecord{}, fmt.Errorf("nix: %s: %w", d.Path, err)
	}
	return d, nil
}
