package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/store"
)

// kv is one key and value of a database, with the path of buckets above it.
type kv struct{ bucket, key, value string }

// dump returns every key and value of the bbolt file at path, or an error
// if bbolt cannot read it.
func dump(path string) (out map[string]kv, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out = map[string]kv{}
	var walk func(prefix string, bk *bolt.Bucket) error
	walk = func(prefix string, bk *bolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			if v == nil && bk.Bucket(k) != nil {
				return walk(prefix+string(k)+"/", bk.Bucket(k))
			}
			out[prefix+"|"+string(k)] = kv{prefix, string(k), string(v)}
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error { return walk(string(name)+"/", bk) })
	})
	return out, err
}

// bookkeeping reports whether the only differences between a and b are in
// entry records, each in a field that is recorded but not attested (the
// stat cache's hash time, device and inode generation; attributes the
// entry's rule does not monitor): such a change cannot hide a change.
func bookkeeping(a, b map[string]kv) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok {
			return false
		}
		if x.value == y.value || x.bucket == "baselines/" && sameInfo(x.value, y.value) {
			continue
		}
		if !strings.HasPrefix(x.bucket, "epochs/") || !strings.HasSuffix(x.bucket, "/records/") {
			return false
		}
		ea, ha, err1 := store.DecodeRecord("/x", []byte(x.value))
		eb, hb, err2 := store.DecodeRecord("/x", []byte(y.value))
		if err1 != nil || err2 != nil || ha != hb || ea.Attrs != eb.Attrs || ea.Type != eb.Type {
			return false
		}
		// Nothing attested moved: the fields outside the entry's rule (the
		// times of the directories above a root, say) and the stat cache's.
		la, _ := merkle.LeafHash(ea, nil)
		lb, _ := merkle.LeafHash(eb, nil)
		if la != lb || merkle.Compare(ea, eb) != 0 {
			return false
		}
	}
	return true
}

// TestMutations flips single bits in the used pages of a sealed database
// and edits single records, each in a fresh copy. Every mutation that
// changes what the database holds is refused when it is opened, found by
// its consistency check (vigil verify), or fails the seal against the
// pinned key (vigil check); the only ones that pass change nothing but
// unattested stat-cache bookkeeping. The counts are logged. Flips go on
// until 10 (short tier) or 100 (long) of them changed what the database
// holds, at most 400 or 4,000 (fimtest.Rounds).
func TestMutations(t *testing.T) {
	root := t.TempDir()
	tree := fimtest.Tree{}
	for i := range 60 {
		tree[fmt.Sprintf("d%d/f%d", i%6, i)] = fimtest.File(fmt.Sprint(i))
	}
	tree.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	path := filepath.Join(t.TempDir(), "vigil.db")
	skey, vkey, err := note.GenerateKey(nil, "mutation-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	cfg := config.Default()
	cfg.Roots, cfg.Database = []string{root}, path
	o := engine.Options{Config: cfg, Host: "test", Version: "test", Phase: engine.PhaseHardened, Signer: signer}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Seal(t.Context(), db, o); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "d1/f1"), []byte("planned"), 0o644)
	if _, err := engine.Reseal(t.Context(), db, o); err != nil {
		t.Fatal(err)
	}
	db.Close()
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err := dump(path)
	if err != nil {
		t.Fatal(err)
	}
	used := store.UsedPages(t, path)
	r := rand.New(rand.NewPCG(3, 4))
	var n struct{ slack, bookkeeping, refused, caught int }
	// Flips land anywhere in the used pages, much of it page slack: flip
	// until a quarter of the wanted count changed what the database holds
	// (each refused or caught), whatever the layout, within ten times it.
	want := fimtest.Rounds(40, 400)
	flips := 0
	for i := 0; i < 10*want && n.refused+n.caught < want/4; i++ {
		flips++
		b := bytes.Clone(pristine)
		off := used[r.IntN(len(used))]*4096 + r.IntN(4096)
		b[off] ^= byte(1 << r.IntN(8))
		mpath := filepath.Join(t.TempDir(), "m.db")
		if err := os.WriteFile(mpath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		d, derr := dump(mpath)
		if derr == nil && len(d) == len(base) && bookkeeping(base, d) {
			if equalDumps(base, d) {
				n.slack++
			} else {
				n.bookkeeping++
			}
			continue
		}
		switch err := verdict(mpath, verifier); {
		case errors.Is(err, store.ErrTampered):
			n.caught++
		case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrSchema), errors.Is(err, store.ErrNoBaseline),
			errors.Is(err, store.ErrNotFound):
			n.refused++
		default:
			t.Errorf("bit flipped at byte %d: the damaged database passed (%v): %s", off, err, describe(base, d, derr))
		}
		_ = i
	}
	t.Logf("%d bit flips in used pages: %d hit page slack, %d changed only unattested fields (stat cache, attributes outside the rule), %d refused as damaged, %d caught as tampered", flips, n.slack, n.bookkeeping, n.refused, n.caught)
	if n.refused+n.caught < want/4 {
		t.Errorf("only %d of %d flips changed what the database holds: the test proves little", n.refused+n.caught, flips)
	}
}

// sameInfo reports whether two encodings of a baseline's information
// decode to the same: JSON field names match in any case and hex digits
// decode in either, so a flip of a letter's case changes the bytes but not
// what the database holds.
func sameInfo(a, b string) bool {
	var x, y store.Info
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	ja, err1 := json.Marshal(x)
	jb, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func equalDumps(a, b map[string]kv) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// verdict opens the database at path, runs its consistency check and
// verifies the current baseline's seal, returning the first failure.
func verdict(path string, v note.Verifier) error {
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return err
	}
	if _, err := db.VerifyAudit(); err != nil {
		return err
	}
	if err := engine.VerifySeals(db, note.VerifierList(v)); err != nil {
		return err
	}
	if w := db.Warnings(); len(w) > 0 {
		return w[0]
	}
	return nil
}

// describe names what differs between two dumps.
func describe(a, b map[string]kv, err error) string {
	if err != nil {
		return "unreadable: " + err.Error()
	}
	var out []string
	for k, x := range a {
		if y, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("%q gone", k))
		} else if x.value != y.value {
			ea, _, err1 := store.DecodeRecord("/x", []byte(x.value))
			eb, _, err2 := store.DecodeRecord("/x", []byte(y.value))
			if err1 == nil && err2 == nil {
				out = append(out, fmt.Sprintf("%q: record %+v -> %+v", k, *ea, *eb))
				continue
			}
			i := 0
			for i < len(x.value) && i < len(y.value) && x.value[i] == y.value[i] {
				i++
			}
			lo, hi := max(i-40, 0), min(i+40, len(x.value), len(y.value))
			out = append(out, fmt.Sprintf("%q at %d: %q -> %q", k, i, x.value[lo:hi], y.value[lo:hi]))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%q new", k))
		}
	}
	return strings.Join(out, "; ")
}
