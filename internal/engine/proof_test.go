package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/store"
)

// sealedProof seals a real tree in a real database with a real key and
// returns the proof file of rel as vigil proof prints it, with the
// verifiers that check it.
func sealedProof(t *testing.T, rel string) (*fixture, []byte, note.Verifiers) {
	t.Helper()
	f := newFixture(t, fimtest.Tree{
		"etc/ssh/sshd_config": fimtest.File("PermitRootLogin no\n").Mode(0o600),
		"etc/ssh/moduli":      fimtest.File("moduli"),
		"etc/hosts":           fimtest.File("127.0.0.1 localhost\n"),
		"bin/su":              fimtest.File("ELF su").Mode(0o4755),
		"bin/sh":              fimtest.Symlink("dash"),
	})
	if err := unix.Lsetxattr(f.path("etc/ssh/sshd_config"), "user.vigil-test", []byte{0, 1, 0xff}, 0); err != nil {
		t.Fatalf("setxattr %s: %v", f.path("etc/ssh/sshd_config"), err)
	}
	skey, vkey, err := note.GenerateKey(nil, "proof.test")
	must(t, err)
	signer, err := note.NewSigner(skey)
	must(t, err)
	verifier, err := note.NewVerifier(vkey)
	must(t, err)
	o := f.opts()
	o.Signer, o.Phase, o.Host = signer, engine.PhaseHardened, "host \"q\"\x01"
	f.op(t, "Seal", engine.Seal, o)
	b, err := f.db.Current()
	must(t, err)
	pf, err := engine.Prove(b, f.path(rel))
	if err != nil {
		t.Fatalf("engine.Prove(%s): %v", f.path(rel), err)
	}
	var buf bytes.Buffer
	must(t, json.NewEncoder(&buf).Encode(pf)) // as vigil proof prints it
	return f, buf.Bytes(), note.VerifierList(verifier)
}

// TestVerifyProofEveryEdit: every one-character edit of a real proof, at
// every byte (replaced by several other characters, or deleted), is
// refused, unless it leaves the parsed proof identical.
func TestVerifyProofEveryEdit(t *testing.T) {
	_, raw, vs := sealedProof(t, "etc/ssh/sshd_config")
	want, err := engine.VerifyProof(raw, vs)
	if err != nil {
		t.Fatalf("VerifyProof of a fresh proof: %v\n%s", err, raw)
	}
	if got := want.File.Proof.Entry.Path; !strings.HasSuffix(got, "/etc/ssh/sshd_config") {
		t.Fatalf("VerifyProof proved %q, want .../etc/ssh/sshd_config", got)
	}
	var tried, refused int
	for i := range raw {
		edits := oneCharEdits(raw, i)
		if raceEnabled {
			// The race detector slows JSON tenfold and finds nothing in
			// this one goroutine: one edit per byte, of each kind in turn.
			edits = edits[i%len(edits):][:1]
		}
		for _, edited := range edits {
			tried++
			got, err := engine.VerifyProof(edited, vs)
			if err != nil {
				if !errors.Is(err, store.ErrTampered) {
					t.Errorf("edit at %d (%q): VerifyProof = %v, want ErrTampered", i, snippet(edited, i), err)
				}
				refused++
				continue
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("edit at %d (%q) accepted with a different meaning (-want +got):\n%s", i, snippet(edited, i), d)
			}
		}
	}
	t.Logf("%d bytes, %d edits, %d refused, %d accepted with the parsed proof identical", len(raw), tried, refused, tried-refused)
	if refused < tried-2 { // only the final newline's edits keep the meaning
		t.Errorf("only %d of %d edits refused", refused, tried)
	}
}

// oneCharEdits returns edits of raw at i: the byte deleted, and replaced by
// a character of its own class (next digit, hex digit, letter), its other
// case, and one of the characters that matter to JSON.
func oneCharEdits(raw []byte, i int) [][]byte {
	c := raw[i]
	var subs []byte
	switch {
	case c >= '0' && c <= '8', c >= 'a' && c <= 'e', c >= 'A' && c <= 'Y':
		subs = append(subs, c+1)
	case c == '9':
		subs = append(subs, '0')
	case c == 'f':
		subs = append(subs, '0', 'g')
	default:
		subs = append(subs, 'a')
	}
	if c|0x20 >= 'a' && c|0x20 <= 'z' {
		subs = append(subs, c^0x20)
	}
	// One of the characters that matter to JSON, in turn.
	subs = append(subs, ` "1-,}:`[i%7])
	out := [][]byte{append(append([]byte(nil), raw[:i]...), raw[i+1:]...)}
	for _, s := range subs {
		if s != c {
			e := append([]byte(nil), raw...)
			e[i] = s
			out = append(out, e)
		}
	}
	return out
}

func snippet(b []byte, i int) string {
	return string(b[max(0, i-20):min(len(b), i+20)])
}

// TestVerifyProofRefuses: the edits the red team made, and others that a
// one-character edit cannot make, are each refused for their own reason.
func TestVerifyProofRefuses(t *testing.T) {
	f, raw, vs := sealedProof(t, "bin/su")
	s := strings.TrimSuffix(string(raw), "\n")
	other, _, err := note.GenerateKey(nil, "other.test")
	must(t, err)
	otherSigner, err := note.NewSigner(other)
	must(t, err)
	var pf map[string]json.RawMessage
	must(t, json.Unmarshal(raw, &pf))
	var stmt string
	must(t, json.Unmarshal(pf["statement"], &stmt))
	n, err := note.Open([]byte(stmt), vs)
	must(t, err)
	resigned, err := note.Sign(&note.Note{Text: n.Text}, otherSigner)
	must(t, err)
	resignedJSON, _ := json.Marshal(string(resigned))
	var root string
	must(t, json.Unmarshal(pf["root"], &root))
	forgedRoot := strings.Repeat("0", len(root))

	for _, tc := range []struct {
		name, edited, why string
	}{
		{"unknown top-level field", strings.Replace(s, `{"baseline"`, `{"note":"x","baseline"`, 1), "unknown field"},
		{"unknown field in the entry", strings.Replace(s, `"type":"file"`, `"type":"file","owner":"root"`, 1), "unknown field"},
		{"trailing data", s + `{}`, "after the JSON value"},
		{"repeated key", strings.Replace(s, `{"baseline":`, `{"baseline":99,"baseline":`, 1), "form vigil proof writes"},
		{"key in other case", strings.Replace(s, `"host":`, `"Host":`, 1), "form vigil proof writes"},
		{"number spelt otherwise", strings.Replace(s, `"uid":0`, `"uid":-0`, 1), "not a vigil proof"},
		{"root not the statement's", strings.Replace(s, root, forgedRoot, 1), "root"},
		{"baseline not the statement's", strings.Replace(s, `"baseline":1,`, `"baseline":2,`, 1), "baseline 2"},
		{"host not the statement's", strings.Replace(s, `"host":"host \"q\"\u0001"`, `"host":"other"`, 1), "host"},
		{"missing field", strings.Replace(s, `"host":"host \"q\"\u0001",`, ``, 1), "needs"},
		{"null field", strings.Replace(s, `"host":"host \"q\"\u0001"`, `"host":null`, 1), "needs"},
		{"unattested size of a directory above the root", strings.Replace(s, `"type":"dir","monitored":["type","mode","uid","gid","inode","target"],`,
			`"type":"dir","monitored":["type","mode","uid","gid","inode","target"],"size":4096,`, 1), "not attested"},
		{"attested attribute missing", strings.Replace(s, `"mode":2541,`, ``, 1), "attested but missing"},
		{"monitored out of order", strings.Replace(s, `"monitored":["type","mode","uid","gid","inode","target"]`,
			`"monitored":["mode","type","uid","gid","inode","target"]`, 1), "canonical order"},
		{"hash in upper case", strings.Replace(s, root, strings.ToUpper(root), 1), "form vigil proof writes"},
		{"signed by another key", strings.Replace(s, string(pf["statement"]), string(resignedJSON), 1), "not by the pinned key"},
		{"not signed", strings.Replace(s, string(pf["statement"]), `""`, 1), "not signed"},
	} {
		if tc.edited == s {
			t.Errorf("%s: the edit did not apply to %s", tc.name, s)
			continue
		}
		_, err := engine.VerifyProof([]byte(tc.edited), vs)
		// The reason is matched in words only to show which check refused.
		if !errors.Is(err, store.ErrTampered) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: VerifyProof = %v, want ErrTampered saying %q", tc.name, err, tc.why)
		}
	}
	// The proof of the same path in a later, unsealed baseline cannot
	// borrow the sealed statement.
	must(t, os.WriteFile(f.path("bin/su"), []byte("trojan"), 0o4755))
	f.update(t, f.opts())
	b, err := f.db.Current()
	must(t, err)
	later, err := engine.Prove(b, f.path("bin/su"))
	must(t, err)
	later.Statement = stmt
	forged, err := json.Marshal(later)
	must(t, err)
	if _, err := engine.VerifyProof(forged, vs); !errors.Is(err, store.ErrTampered) {
		t.Errorf("VerifyProof of a later baseline's proof with the sealed statement = %v, want ErrTampered", err)
	}
}

// TestProofCarriesOnlyAttested: the directories above the root show only
// what is attested of them, and the entry exactly its rule's attributes.
func TestProofCarriesOnlyAttested(t *testing.T) {
	f, raw, vs := sealedProof(t, "etc/ssh/sshd_config")
	vp, err := engine.VerifyProof(raw, vs)
	must(t, err)
	for _, s := range vp.File.Proof.Steps {
		if !merkle.Within(f.root, s.Dir.Path) || s.Dir.Path == f.root {
			continue
		}
		if s.Dir.Attrs.Has(merkle.AttrSize) || s.Dir.Attrs.Has(merkle.AttrMtime) || s.Dir.Size != 0 || s.Dir.Mtime != 0 {
			t.Errorf("step through %s (above the root) carries %s, size %d, mtime %d; want no size or mtime",
				s.Dir.Path, s.Dir.Attrs, s.Dir.Size, s.Dir.Mtime)
		}
	}
	var doc struct {
		Proof struct {
			Steps []struct {
				Dir map[string]json.RawMessage `json:"dir"`
			} `json:"steps"`
		} `json:"proof"`
	}
	must(t, json.Unmarshal(raw, &doc))
	above := 0
	for _, s := range doc.Proof.Steps {
		var p string
		must(t, json.Unmarshal(s.Dir["path"], &p))
		if len(p) < len(f.root) {
			above++
			for _, k := range []string{"size", "mtime_ns", "ctime_ns", "nlink"} {
				if _, ok := s.Dir[k]; ok {
					t.Errorf("proof JSON: directory %s above the root carries %q, which is not attested", p, k)
				}
			}
		}
	}
	if above == 0 {
		t.Errorf("proof of %s has no step above the root %s", f.path("etc/ssh/sshd_config"), f.root)
	}
	e := vp.File.Proof.Entry
	if e.Attrs|merkle.AttrType != merkle.AttrAll || len(e.Xattrs) != 1 || e.Perm != 0o600 {
		t.Errorf("proven entry: attrs %s, xattrs %v, mode %o; want all attributes, one xattr, mode 0600", e.Attrs, e.Xattrs, e.Perm)
	}
}

// FuzzVerifyProof: whatever is done to a valid proof file, VerifyProof
// either refuses it or reads the very proof that was signed.
func FuzzVerifyProof(f *testing.F) {
	raw, vs, want := syntheticProof(f)
	f.Add(raw)
	f.Add(bytes.Replace(raw, []byte(`"uid":0`), []byte(`"uid":1`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := engine.VerifyProof(data, vs)
		if err == nil {
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("VerifyProof(%q) accepted another proof (-want +got):\n%s", data, d)
			}
		} else if !errors.Is(err, store.ErrTampered) {
			t.Errorf("VerifyProof(%q) = %v, want ErrTampered", data, err)
		}
	})
}

// syntheticProof signs the statement of a two-level tree built in memory
// and returns the proof file of its file /etc/f, with the verifiers and
// what VerifyProof reads from it.
func syntheticProof(tb testing.TB) ([]byte, note.Verifiers, *engine.VerifiedProof) {
	tb.Helper()
	dir := func(p string, attrs merkle.Attr) *merkle.Entry {
		return &merkle.Entry{Path: p, Type: merkle.TypeDir, Perm: 0o755, Attrs: attrs}
	}
	top := dir("/", merkle.AttrType|merkle.AttrMode|merkle.AttrUID|merkle.AttrGID|merkle.AttrInode|merkle.AttrTarget)
	etc := dir("/etc", merkle.AttrAll)
	file := &merkle.Entry{Path: "/etc/f", Type: merkle.TypeFile, Perm: 0o4755, UID: 7, Size: 3, Mtime: 11, Ctime: 12,
		Inode: 13, Nlink: 1, HashState: merkle.HashOK, Hash: [32]byte{1, 2, 3}, HasFlags: true, Flags: 0x10,
		Xattrs: []merkle.Xattr{{Name: "user.x", Value: []byte{0, 0xff}}}, Attrs: merkle.AttrAll &^ merkle.AttrNlink}
	other := &merkle.Entry{Path: "/etc/g", Type: merkle.TypeSymlink, Target: "f", Attrs: merkle.AttrAll}
	fh, _ := merkle.LeafHash(file, nil)
	gh, _ := merkle.LeafHash(other, nil)
	etcKids := []merkle.Hash{fh, gh}
	etcHash := merkle.DirHash(etc, 2, merkle.ChildRoot(etcKids))
	root := merkle.DirHash(top, 1, merkle.ChildRoot([]merkle.Hash{etcHash}))
	p := &merkle.Proof{Entry: file, Steps: []merkle.Step{merkle.NewStep(etc, etcKids, 0), merkle.NewStep(top, []merkle.Hash{etcHash}, 0)}}
	if err := p.Verify(root); err != nil {
		tb.Fatalf("synthetic proof: %v", err)
	}
	skey, vkey, err := note.GenerateKey(nil, "fuzz.test")
	if err != nil {
		tb.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	in := fullInfo()
	in.Root = store.RootHash(root)
	sig, err := note.Sign(&note.Note{Text: engine.Statement(in)}, signer)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := json.Marshal(&engine.ProofFile{Baseline: in.ID, Host: in.Host, Root: root, Statement: string(sig), Proof: p})
	if err != nil {
		tb.Fatal(err)
	}
	vs := note.VerifierList(verifier)
	want, err := engine.VerifyProof(raw, vs)
	if err != nil {
		tb.Fatalf("VerifyProof of the synthetic proof: %v\n%s", err, raw)
	}
	return raw, vs, want
}

// BenchmarkVerifyProof is the cost of checking one proof file offline.
func BenchmarkVerifyProof(b *testing.B) {
	raw, vs, _ := syntheticProof(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := engine.VerifyProof(raw, vs); err != nil {
			b.Fatal(err)
		}
	}
}
