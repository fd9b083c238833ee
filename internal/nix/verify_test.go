package nix_test

import (
	"crypto/ed25519"
	"database/sql"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/fimtest"
	"vigil/internal/nix"
)

// execDB runs one statement on the store's Nix database (tests only: vigil
// never writes it).
func execDB(t testing.TB, s nix.Store, stmt string, args ...any) {
	t.Helper()
	u := url.URL{Scheme: "file", Path: s.Real(nix.DBPath)}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

type got struct {
	Kind  nix.Kind
	Path  string
	Files []string
}

func findings(r *nix.Report) []got {
	var out []got
	for _, f := range r.Findings {
		out = append(out, got{f.Kind, f.Path, f.Files})
	}
	return out
}

// trusting returns options trusting a fresh key, with the store's two
// input-addressed paths (lib, system) signed by it.
func trusting(t *testing.T, ts *testStore) nix.Options {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := nix.Verify(t.Context(), ts.Store, nix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{ts.lib}, ts.sys...) {
		sig, err := nix.Sign(r.Paths[p], "test-1", priv)
		if err != nil {
			t.Fatal(err)
		}
		execDB(t, ts.Store, "update ValidPaths set sigs = ? where path = ?", sig, p)
	}
	return nix.Options{Conf: nix.Conf{RequireSigs: true, TrustedKeys: []nix.PublicKey{{Name: "test-1", Key: pub}}}}
}

// TestVerifyFindings: on a real store, each kind of tampering is found
// and named, and nothing else is reported.
func TestVerifyFindings(t *testing.T) {
	ts := newTestStore(t, fimtest.Rounds(40, 300))
	opts := trusting(t, ts)
	r, err := nix.Verify(t.Context(), ts.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || r.Hashed != len(ts.added)+2 {
		t.Fatalf("Verify(untouched store) = %d hashed, findings %v; want %d hashed, none", r.Hashed, findings(r), len(ts.added)+2)
	}

	a, b, c, d := ts.added[10], ts.added[11], ts.added[12], ts.added[13]
	// A byte changed in a store file.
	lib := ts.Real(a + "/lib/libx.so")
	data, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	data[7] ^= 1
	if err := os.WriteFile(lib, data, 0o444); err != nil {
		t.Fatal(err)
	}
	// A file added to a store path.
	if err := os.WriteFile(ts.Real(b+"/bin/backdoor"), []byte("x"), 0o555); err != nil {
		t.Fatal(err)
	}
	// An unregistered directory in the store.
	evil := nix.StoreDir + "/dddddddddddddddddddddddddddddddd-evil"
	if err := os.MkdirAll(ts.Real(evil+"/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A database row's hash edited (to a hash of other content).
	execDB(t, ts.Store, "update ValidPaths set hash = ? where path = ?", r.Paths[d].Hash, c)
	// A valid path gone from the disk.
	gone := ts.added[14]
	if err := os.RemoveAll(ts.Real(gone)); err != nil {
		t.Fatal(err)
	}
	// A path nobody signed.
	unsigned := ts.register(t, "ffffffffffffffffffffffffffffffff-unsigned", nil)

	r2, err := nix.Verify(t.Context(), ts.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []got{
		{nix.ContentChanged, a, []string{"lib/libx.so"}},
		{nix.ContentChanged, b, []string{"bin", "bin/backdoor"}},
		{nix.ContentChanged, c, nil},
		{nix.Untrusted, c, nil}, // its CA assertion no longer matches its NAR hash
		{nix.Unregistered, evil, nil},
		{nix.Missing, gone, nil},
		{nix.Untrusted, unsigned, nil},
	}
	sortGot(want)
	if diff := cmp.Diff(want, findings(r2)); diff != "" {
		t.Errorf("Verify(tampered store) findings (-want +got):\n%s", diff)
	}
	// Without require-sigs the unsigned path is not a finding.
	opts.Conf.RequireSigs = false
	r3, err := nix.Verify(t.Context(), ts.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(r3.Findings, func(f nix.Finding) bool { return f.Kind == nix.Untrusted }) {
		t.Errorf("Verify(require-sigs false) = %v, want no %s", findings(r3), nix.Untrusted)
	}
}

func sortGot(g []got) {
	slices.SortFunc(g, func(a, b got) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
}

// TestVerifyStatCache: a store path whose files are unchanged by stat is
// not rehashed; a changed one is, and so is every path with Full.
func TestVerifyStatCache(t *testing.T) {
	ts := newTestStore(t, 50)
	r, err := nix.Verify(t.Context(), ts.Store, nix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := nix.Verify(t.Context(), ts.Store, nix.Options{Known: r.States})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Hashed != 0 || r2.Reused != len(r.Paths) || len(r2.Findings) != 0 {
		t.Errorf("Verify(unchanged, Known) = %d hashed, %d reused, %v; want 0, %d, none", r2.Hashed, r2.Reused, findings(r2), len(r.Paths))
	}
	p := ts.added[3]
	f := ts.Real(p + "/share/doc/README")
	if err := os.WriteFile(f, []byte("package 3\n"), 0o444); err != nil { // same bytes: only the stat moved
		t.Fatal(err)
	}
	r3, err := nix.Verify(t.Context(), ts.Store, nix.Options{Known: r.States})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Hashed != 1 || len(r3.Findings) != 0 {
		t.Errorf("Verify(one path touched, Known) = %d hashed, %v; want 1, none", r3.Hashed, findings(r3))
	}
	r4, err := nix.Verify(t.Context(), ts.Store, nix.Options{Known: r.States, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if r4.Hashed != len(r.Paths) {
		t.Errorf("Verify(Full) hashed %d, want %d", r4.Hashed, len(r.Paths))
	}
	// A cached state does not hide a database hash edited since.
	execDB(t, ts.Store, "update ValidPaths set hash = ? where path = ?", r.Paths[ts.added[5]].Hash, ts.added[4])
	r5, err := nix.Verify(t.Context(), ts.Store, nix.Options{Known: r.States})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]got{{nix.ContentChanged, ts.added[4], nil}}, findings(r5)); diff != "" {
		t.Errorf("Verify(db hash edited, Known) (-want +got):\n%s", diff)
	}
}
