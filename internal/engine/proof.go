package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/nixtree"
	"vigil/merkle"
	"vigil/store"
)

// ProofFile is a proof of one path's recorded state with what an offline
// verifier needs beside it: the baseline's signed statement, which names
// the root the proof leads to. Baseline, Host and Root repeat what the
// statement says, for people; [VerifyProof] refuses a file where they
// disagree with it.
type ProofFile struct {
	Baseline  uint64
	Host      string
	Root      merkle.Hash
	Statement string // the signed note; empty for an unsigned baseline
	Proof     *merkle.Proof
	// Tree is "nix" for the proof of a store path's record in the
	// baseline's Nix tree (Root is then the Nix tree's root, Record the
	// canonical record proven: see [ProveNix]); empty for a file's.
	Tree   string
	Record string
}

// proofJSON is the JSON form of a [ProofFile]; every field is required.
type proofJSON struct {
	Baseline  *uint64       `json:"baseline"`
	Host      *string       `json:"host"`
	Root      *string       `json:"root"`
	Statement *string       `json:"statement"`
	Proof     *merkle.Proof `json:"proof"`
	Tree      *string       `json:"tree,omitempty"`
	Record    *string       `json:"record,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (f *ProofFile) MarshalJSON() ([]byte, error) {
	root := hex.EncodeToString(f.Root[:])
	j := proofJSON{Baseline: &f.Baseline, Host: &f.Host, Root: &root, Statement: &f.Statement, Proof: f.Proof}
	if f.Tree != "" {
		j.Tree, j.Record = &f.Tree, &f.Record
	}
	return json.Marshal(j)
}

// Prove returns the proof file of path's entry in baseline b, after
// checking that the proof leads to b's root. It does not check b's
// signature: [VerifyProof] does, wherever the proof goes.
func Prove(b *store.Baseline, path string) (*ProofFile, error) {
	in := b.Info()
	p, err := b.Proof(path)
	if err != nil {
		return nil, err
	}
	if err := p.Verify(merkle.Hash(in.Root)); err != nil {
		return nil, fmt.Errorf("baseline %d: %w: %w", in.ID, store.ErrTampered, err)
	}
	return &ProofFile{Baseline: in.ID, Host: in.Host, Root: merkle.Hash(in.Root), Statement: string(in.Signature), Proof: p}, nil
}

// VerifiedProof is what [VerifyProof] found valid.
type VerifiedProof struct {
	File *ProofFile
	// Statement holds the fields of the signed statement (see
	// [ParseStatement]).
	Statement store.Info
	// SignedBy names the key that signed it.
	SignedBy string
	// Nix is the record proven, for a proof of the Nix tree.
	Nix *nixtree.DecodedRecord
}

// VerifyProof checks a proof file as 'vigil proof' writes it, with nothing
// but verifiers: the file is one JSON value with exactly the fields and the
// form [ProofFile.MarshalJSON] gives (up to white space and string
// escapes), its statement is signed by one of verifiers and parses
// ([ParseStatement]), its baseline, host and root are the statement's, and
// the proof leads to that root. Every value the file carries is thereby
// attested: an edit of any of them is refused. A failure wraps
// [store.ErrTampered]; a proof with no statement is [ErrUnsigned], one
// signed by another key [ErrForeignKey] (see [OpenNote]).
func VerifyProof(raw []byte, verifiers note.Verifiers) (*VerifiedProof, error) {
	fail := func(format string, args ...any) (*VerifiedProof, error) {
		return nil, fmt.Errorf("%w: %s", store.ErrTampered, fmt.Sprintf(format, args...))
	}
	f, err := parseProofFile(raw)
	if err != nil {
		return fail("%v", err)
	}
	if f.Statement == "" {
		return nil, fmt.Errorf("baseline %d: %w: the proof has no statement to check it against", f.Baseline, ErrUnsigned)
	}
	n, err := OpenNote("the proof's statement", []byte(f.Statement), verifiers)
	if err != nil {
		return nil, err
	}
	if err := canonicalSigs(n); err != nil {
		return fail("%v", err)
	}
	in, err := ParseStatement(n.Text)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case f.Baseline != in.ID:
		return fail("the proof says baseline %d, its signed statement %d", f.Baseline, in.ID)
	case f.Host != in.Host:
		return fail("the proof says host %q, its signed statement %q", f.Host, in.Host)
	case f.Tree == treeNix:
		return verifyNixProof(f, in, n.Sigs[0].Name)
	case f.Root != merkle.Hash(in.Root):
		return fail("the proof says root %x, its signed statement %s", f.Root, in.Root)
	}
	if err := f.Proof.Verify(f.Root); err != nil {
		return fail("%v", err)
	}
	return &VerifiedProof{File: f, Statement: in, SignedBy: n.Sigs[0].Name}, nil
}

// parseProofFile reads a proof file that has exactly the fields and the
// form [ProofFile.MarshalJSON] gives it, white space and string escapes
// aside.
func parseProofFile(raw []byte) (*ProofFile, error) {
	var j proofJSON
	if err := decodeStrict(raw, &j); err != nil {
		return nil, fmt.Errorf("not a vigil proof: %w", err)
	}
	if j.Baseline == nil || j.Host == nil || j.Root == nil || j.Statement == nil || j.Proof == nil {
		return nil, errors.New("not a vigil proof: it needs baseline, host, root, statement and proof")
	}
	f := &ProofFile{Baseline: *j.Baseline, Host: *j.Host, Statement: *j.Statement, Proof: j.Proof}
	switch {
	case j.Tree == nil && j.Record == nil:
	case j.Tree != nil && *j.Tree == treeNix && j.Record != nil:
		f.Tree, f.Record = *j.Tree, *j.Record
	default:
		return nil, errors.New(`not a vigil proof: tree must be "nix", with a record`)
	}
	b, err := hex.DecodeString(*j.Root)
	if err != nil || len(b) != len(f.Root) {
		return nil, fmt.Errorf("not a vigil proof: bad root %q", *j.Root)
	}
	copy(f.Root[:], b)
	canon, err := json.Marshal(f)
	if err == nil {
		err = sameJSON(raw, canon)
	}
	if err != nil {
		return nil, fmt.Errorf("not in the form vigil proof writes: %w", err)
	}
	return f, nil
}

// canonicalSigs checks that a verified note carries one signature, in
// canonical base64: note.Open accepts a signature whose last character
// differs in bits base64 does not use, which would let an edit of the
// statement's text pass.
func canonicalSigs(n *note.Note) error {
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return fmt.Errorf("the statement carries %d signatures, %d of them by the given key; want one, by it",
			len(n.Sigs)+len(n.UnverifiedSigs), len(n.Sigs))
	}
	if !canonicalBase64(n.Sigs[0].Base64) {
		return fmt.Errorf("the statement's signature is not in canonical base64")
	}
	return nil
}

func canonicalBase64(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && base64.StdEncoding.EncodeToString(b) == s
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

// sameJSON checks that got and want are the same JSON token for token:
// the same keys (in the same order, spelt the same, none twice), the same
// numbers as written, the same strings once unescaped. White space may
// differ.
func sameJSON(got, want []byte) error {
	var compact bytes.Buffer
	if json.Compact(&compact, got) == nil && bytes.Equal(compact.Bytes(), want) {
		return nil // the common case, without the cost of tokens
	}
	dg, dw := json.NewDecoder(bytes.NewReader(got)), json.NewDecoder(bytes.NewReader(want))
	dg.UseNumber()
	dw.UseNumber()
	for {
		tg, eg := dg.Token()
		tw, ew := dw.Token()
		switch {
		case eg == io.EOF && ew == io.EOF:
			return nil
		case eg != nil:
			return eg
		case ew != nil:
			return fmt.Errorf("at offset %d: %v after the end", dg.InputOffset(), tg)
		case tg != tw:
			return fmt.Errorf("at offset %d: %v, want %v", dg.InputOffset(), tg, tw)
		}
	}
}

// CopyAttrs are the attributes a copy of a file can keep (what 'cp -a'
// keeps but the times): content, type, mode, owner, group, size, xattrs
// and symlink target. Inode, ctime, link count, inode flags, device and
// generation belong to the inode, not to what it holds.
const CopyAttrs = merkle.AttrContent | merkle.AttrType | merkle.AttrMode | merkle.AttrUID |
	merkle.AttrGID | merkle.AttrSize | merkle.AttrXattrs | merkle.AttrTarget

// CopyComparison is how a file compares with a proven entry as a copy of
// it would: [CompareCopy].
type CopyComparison struct {
	// Compared are the attested attributes a copy can keep, Differ those
	// of them that differ.
	Compared, Differ merkle.Attr
	// Mtime says whether the modification time was attested and, if so,
	// whether it matches: a copy may keep it or not, so it decides nothing.
	MtimeAttested, MtimeMatches bool
	// Ignored are the attested attributes a copy cannot keep (inode,
	// ctime, link count, inode flags).
	Ignored merkle.Attr
}

// CompareCopy reads path (without following a symlink) and compares it
// with want, a proven entry, as a copy made elsewhere can be compared: on
// the attested attributes in [CopyAttrs]. A path that cannot be read is
// an error naming it.
func CompareCopy(ctx context.Context, want *merkle.Entry, path string) (CopyComparison, error) {
	got, err := ScanPath(ctx, path, want.Attrs)
	if errors.Is(err, fs.ErrNotExist) {
		if link := linkAbove(path); link != "" {
			err = &fs.PathError{Op: "lstat", Path: path, Err: fmt.Errorf("%s above it is a symbolic link, which vigil does not follow: give the path without it", link)}
		}
	}
	if err != nil {
		return CopyComparison{}, err
	}
	if got.Err != "" {
		return CopyComparison{}, &fs.PathError{Op: "read", Path: path, Err: errors.New(got.Err)}
	}
	mask := want.Attrs | merkle.AttrType
	c := CopyComparison{
		Compared:      mask & CopyAttrs,
		MtimeAttested: mask.Has(merkle.AttrMtime),
		MtimeMatches:  mask.Has(merkle.AttrMtime) && got.Mtime == want.Mtime,
		Ignored:       mask &^ CopyAttrs &^ merkle.AttrMtime,
	}
	c.Differ = merkle.Compare(want, got) & c.Compared
	return c, nil
}

// linkAbove returns the deepest directory above path that is a symbolic
// link, "" if there is none: why a scan, which follows none, does not find
// a path that os.Stat does.
func linkAbove(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(abs); d != "/"; d = filepath.Dir(d) {
		if st, err := os.Lstat(d); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return d
		}
	}
	return ""
}
