package main

import (
	"bytes"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sealable adds to h's configuration a phase marker and a pinned key made
// by keygen, as newSealSetup does.
func (h nixHost) sealable(t *testing.T) sealSetup {
	t.Helper()
	s := sealSetup{setup: h.setup}
	dir := t.TempDir()
	s.marker, s.checkpoint = filepath.Join(dir, "phase2_hardened"), filepath.Join(dir, "checkpoint")
	keys := filepath.Join(dir, "keys")
	mustRun(t, 0, s.args("keygen", "--name", "test-host", "--out", keys)...)
	s.key, s.pub = filepath.Join(keys, "vigil.key"), filepath.Join(keys, "vigil.pub")
	h.editConfig(t, "[nix]\n", "[phase]\nhardened_markers = ["+quoteTOML(s.marker)+"]\n\n[trust]\npubkey = "+
		quoteTOML(s.pub)+"\ncheckpoint = "+quoteTOML(s.checkpoint)+"\n\n[nix]\n")
	return s
}

func quoteTOML(s string) string { return `"` + s + `"` }

func (h nixHost) editConfig(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(h.config)
	must(t, err)
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", h.config, old)
	}
	must(t, os.WriteFile(h.config, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644))
}

// editNixRecord rewrites, directly in the database, the record of store
// path p in every Nix tree with edit: what root can do to the file.
func editNixRecord(t *testing.T, db, p string, edit func([]byte) []byte) {
	t.Helper()
	b, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	must(t, err)
	defer b.Close()
	n := 0
	must(t, b.Update(func(tx *bolt.Tx) error {
		nb := tx.Bucket([]byte("nix"))
		if nb == nil {
			return nil
		}
		return nb.ForEachBucket(func(k []byte) error {
			rb := nb.Bucket(k)
			if v := rb.Get([]byte(p)); v != nil {
				n++
				return rb.Put([]byte(p), edit(bytes.Clone(v)))
			}
			return nil
		})
	}))
	if n == 0 {
		t.Fatalf("no Nix tree in %s holds a record of %s", db, p)
	}
}

// TestNixTreeSealProof: a baseline sealed before the Nix tree (its
// statement without a "nix" line) keeps verifying and is checked against
// its snapshot file; a reseal writes the tree; the proof of one store path
// verifies offline (and --against compares a copy's NAR hash); a database
// row changed since is named, and once accepted diff names it; a record edited in the database around vigil
// is exit 8, for check and nix check alike.
func TestNixTreeSealProof(t *testing.T) {
	h := newNixHost(t, 12)
	s := h.sealable(t)
	mustRun(t, exitOK, h.args("init")...)
	mustRun(t, exitOK, h.args("nix", "snapshot")...)
	// The old format: the snapshot accepted and sealed as a file only.
	h.editConfig(t, "[nix]\n", "[nix]\nenabled = false\n")
	mustRun(t, exitOK, h.args("update")...)
	s.harden(t)
	mustRun(t, exitOK, h.args("seal", "--key", s.key, "--reason", "old format")...)
	h.editConfig(t, "[nix]\nenabled = false\n", "[nix]\n")
	mustRun(t, exitOK, h.args("check")...)
	mustRun(t, exitOK, h.args("nix", "check")...)
	if out := vigil(t, h.args("proof", "--nix", h.paths[3])...); out.code == exitOK || !strings.Contains(out.stderr, "no Nix tree") {
		t.Errorf("proof --nix of a baseline without a Nix tree: exit %d, stderr %q; want a failure saying so", out.code, out.stderr)
	}

	// The migration: a reseal with no file changed writes the tree.
	mustRun(t, exitOK, h.args("reseal", "--key", s.key, "--reason", "nix tree")...)
	mustRun(t, exitOK, h.args("check")...)
	mustRun(t, exitOK, h.args("nix", "check")...)
	mustRun(t, exitOK, h.args("verify")...)

	proof := filepath.Join(t.TempDir(), "nix.proof.json")
	must(t, os.WriteFile(proof, []byte(mustRun(t, exitOK, h.args("proof", "--nix", h.paths[3])...).stdout), 0o644))
	code, out := verifyProof(t, s.pub, proof)
	if code != exitOK || !strings.Contains(out, "valid: the record of "+h.paths[3]+" ") || !strings.Contains(out, "closure=false") {
		t.Fatalf("verify-proof of %s's record: exit %d\n%s\nwant valid, naming it", h.paths[3], code, out)
	}
	if code, out := verifyProof(t, s.pub, proof, "--against", filepath.Join(h.host, h.paths[3])); code != exitOK || !strings.Contains(out, "matches the sealed record") {
		t.Errorf("verify-proof --against the store path itself: exit %d\n%s\nwant a match", code, out)
	}
	if code, out := verifyProof(t, s.pub, proof, "--against", filepath.Join(h.host, h.paths[4])); code != exitChanged {
		t.Errorf("verify-proof --against another store path: exit %d\n%s\nwant %d", code, out, exitChanged)
	}
	raw, err := os.ReadFile(proof)
	must(t, err)
	for name, edited := range map[string][]byte{
		"registration time": bytes.Replace(raw, []byte(`registration_time `), []byte(`registration_time 1`), 1),
		"closure":           bytes.Replace(raw, []byte(`closure false`), []byte(`closure true`), 1),
		"tree dropped":      bytes.Replace(raw, []byte(`"tree":"nix",`), nil, 1),
	} {
		if bytes.Equal(edited, raw) {
			t.Fatalf("%s: the edit changed nothing in %s", name, raw)
		}
		p := filepath.Join(t.TempDir(), "edited.json")
		must(t, os.WriteFile(p, edited, 0o644))
		if code, out := verifyProof(t, s.pub, p); code != exitTampered {
			t.Errorf("verify-proof of a proof with the %s edited: exit %d\n%s\nwant %d", name, code, out, exitTampered)
		}
	}

	// A database row changed since the seal is named.
	u := url.URL{Scheme: "file", Path: filepath.Join(h.host, "nix/var/nix/db/db.sqlite")}
	sdb, err := sql.Open("sqlite", u.String())
	must(t, err)
	_, err = sdb.Exec("update ValidPaths set registrationTime = registrationTime + 1 where path = ?", h.paths[6])
	must(t, errors2(err, sdb.Close()))
	out2 := mustRun(t, exitChanged, h.args("nix", "check")...)
	if !strings.Contains(out2.stdout, "nix_db_changed "+h.paths[6]+": registration time") {
		t.Errorf("nix check after %s's registration time changed:\n%s\nwant it named", h.paths[6], out2.stdout)
	}

	// Accepted (a new snapshot, resealed), the change is diff's, by store
	// path.
	mustRun(t, exitOK, h.args("nix", "snapshot")...)
	mustRun(t, exitOK, h.args("reseal", "--key", s.key, "--reason", "re-registered")...)
	mustRun(t, exitOK, h.args("nix", "check")...)
	out2 = mustRun(t, exitChanged, h.args("diff")...)
	if want := "~ nix " + h.paths[6] + ": registration time"; !strings.Contains(out2.stdout, want) || strings.Contains(out2.stdout, h.paths[5]) {
		t.Errorf("diff after the re-registration was accepted:\n%s\nwant %q, and no other store path", out2.stdout, want)
	}

	// A record edited around vigil: the tree no longer hashes to the
	// signed root.
	editNixRecord(t, h.db, h.paths[6], func(v []byte) []byte {
		return bytes.Replace(v, []byte("registration_time "), []byte("registration_time 1"), 1)
	})
	out2 = mustRun(t, exitTampered, h.args("nix", "check")...)
	if !strings.Contains(out2.stdout, "Nix tree") {
		t.Errorf("nix check with a record edited in the database: %q, want the Nix tree named", out2.stdout)
	}
	mustRun(t, exitTampered, h.args("check")...)
	mustRun(t, exitTampered, h.args("verify")...)
	if out := vigil(t, h.args("proof", "--nix", h.paths[6])...); out.code != exitTampered {
		t.Errorf("proof --nix with the records edited: exit %d, want %d\n%s", out.code, exitTampered, out.stderr)
	}
}

func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestNixTreeNotAccepted: a baseline without a Nix tree whose snapshot file
// was rewritten and not accepted gets no tree from an update that leaves
// the file out (a scoped one): the update succeeds, nix check still says
// the snapshot is not the baseline's, and the update that accepts the
// file writes the tree.
func TestNixTreeNotAccepted(t *testing.T) {
	h := newNixHost(t, 4)
	mustRun(t, exitOK, h.args("nix", "snapshot")...)
	h.editConfig(t, "[nix]\n", "[nix]\nenabled = false\n")
	mustRun(t, exitOK, h.args("init")...)
	h.editConfig(t, "[nix]\nenabled = false\n", "[nix]\n")
	snap := filepath.Join(h.host, "etc/vigil/nix-store.json")
	b, err := os.ReadFile(snap)
	must(t, err)
	must(t, os.WriteFile(snap, append(b, '\n'), 0o644))
	must(t, os.WriteFile(filepath.Join(h.root, "passwd"), []byte("root:x:0:0::/root:/bin/bash\n"), 0o644))
	mustRun(t, exitOK, h.args("update", filepath.Join(h.root, "passwd"))...)
	mustRun(t, exitTampered, h.args("nix", "check")...)
	if out := vigil(t, h.args("proof", "--nix", h.paths[0])...); !strings.Contains(out.stderr, "no Nix tree") {
		t.Errorf("proof --nix after the scoped update: exit %d, stderr %q; want no Nix tree", out.code, out.stderr)
	}
	mustRun(t, exitOK, h.args("update")...)
	mustRun(t, exitOK, h.args("nix", "check")...)
	mustRun(t, exitOK, h.args("proof", "--nix", h.paths[0])...)
}
