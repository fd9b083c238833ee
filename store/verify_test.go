package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// recs gives a tampering test the record versions of one baseline by path
// key.
type recs struct {
	b  *bolt.Bucket
	id uint64
}

func (r recs) Get(pk []byte) []byte   { return r.b.Get(verKeyOf(pk, r.id)) }
func (r recs) Put(pk, v []byte) error { return r.b.Put(verKeyOf(pk, r.id), v) }
func (r recs) Delete(pk []byte) error { return r.b.Delete(verKeyOf(pk, r.id)) }

// tamper changes the database at path with bbolt directly, as an intruder
// (or a bad disk) would: fn gets the records written by the baseline with
// the given id and the bucket of baseline infos.
func tamper(t *testing.T, path string, id uint64, fn func(entries recs, baselines *bolt.Bucket) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		in, err := decodeInfo(tx.Bucket(bucketBaselines).Get(idKey(id)), id)
		if err != nil {
			return err
		}
		return fn(recs{records(tx, in.Epoch), id}, tx.Bucket(bucketBaselines))
	})
	if err != nil {
		t.Fatalf("tampering: %v", err)
	}
}

// flipHashByte flips the first byte of the content hash in the record of
// path.
func flipHashByte(path string) func(entries recs, _ *bolt.Bucket) error {
	return func(entries recs, _ *bolt.Bucket) error {
		k := appendKey(nil, path)
		v := bytes.Clone(entries.Get(k))
		e, _, err := decodeRecord(path, v)
		if err != nil {
			return err
		}
		i := bytes.Index(v, e.Hash[:])
		if i < 0 {
			return fmt.Errorf("no content hash in the record of %s", path)
		}
		v[i] ^= 0x01
		return entries.Put(k, v)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(entries recs, baselines *bolt.Bucket) error
		want    error
		mention string // the path or baseline the error must name
	}{
		{"content hash flipped", flipHashByte("/etc/passwd"), ErrTampered, "/etc:"},
		{"content hash flipped, file at the top", flipHashByte("/etc-old"), ErrTampered, "/:"},
		{"record deleted", func(entries recs, _ *bolt.Bucket) error {
			return entries.Delete(appendKey(nil, "/etc/hosts"))
		}, ErrTampered, "/etc:"},
		{"record added", func(entries recs, _ *bolt.Bucket) error {
			return entries.Put(appendKey(nil, "/usr/evil"), appendRecord(nil, fileEntry("/usr/evil", 66), nil))
		}, ErrTampered, "/usr:"},
		{"mode changed", func(entries recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/usr/ping")
			e, _, err := decodeRecord("/usr/ping", entries.Get(k))
			if err != nil {
				return err
			}
			e.Perm |= 0o4000
			return entries.Put(k, appendRecord(nil, e, nil))
		}, ErrTampered, "/usr:"},
		{"directory node hash changed", func(entries recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/etc/empty")
			e, node, err := decodeRecord("/etc/empty", entries.Get(k))
			if err != nil {
				return err
			}
			node[0] ^= 1
			return entries.Put(k, appendRecord(nil, e, &node))
		}, ErrTampered, "/etc/empty:"},
		{"root hash in info changed", func(_ recs, baselines *bolt.Bucket) error {
			in, err := decodeInfo(baselines.Get(idKey(1)), 1)
			if err != nil {
				return err
			}
			in.Root[0] ^= 1
			return putInfo(baselines, in)
		}, ErrTampered, "baseline 1"},
		{"record truncated", func(entries recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/etc/passwd")
			v := entries.Get(k)
			return entries.Put(k, bytes.Clone(v[:len(v)-1]))
		}, ErrCorrupt, "/etc/passwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, info := closedBaseline(t)
			tamper(t, path, info.ID, tt.tamper)

			db, err := Open(path, Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("Open after tampering: %v", err)
			}
			defer db.Close()
			cur, err := db.Current()
			if err != nil {
				t.Fatalf("Current after tampering: %v", err)
			}
			err = cur.Verify()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Verify = %v; want %v naming %q", err, tt.want, tt.mention)
			}
			err = db.Check()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), fmt.Sprintf("baseline %d", info.ID)) {
				t.Errorf("Check = %v; want %v naming baseline %d", err, tt.want, info.ID)
			}
		})
	}
}

// TestCheckRefusesVersionZero: a record moved to version 0 (a flipped bit
// in its key) reads the same for every baseline, so no hash catches it;
// the consistency check refuses it, as no baseline has the number 0.
func TestCheckRefusesVersionZero(t *testing.T) {
	path, info := closedBaseline(t)
	tamper(t, path, info.ID, func(entries recs, _ *bolt.Bucket) error {
		pk := appendKey(nil, "/etc/hosts")
		v := bytes.Clone(entries.Get(pk))
		if err := entries.Delete(pk); err != nil {
			return err
		}
		return recs{entries.b, 0}.Put(pk, v)
	})
	db, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if err := db.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "/etc/hosts") {
		t.Errorf("Check = %v; want %v naming /etc/hosts", err, ErrCorrupt)
	}
}

// TestVerifierSubtree checks a Verifier fed only some subtrees: intact
// ones pass, a tampered one is named.
func TestVerifierSubtree(t *testing.T) {
	path, info := closedBaseline(t)
	tamper(t, path, info.ID, flipHashByte("/usr/ping"))
	db, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	verify := func(scopes ...string) error {
		return verifyAll(NewVerifier(cur.Info(), false), cur.Iter(scopes...))
	}
	if err := verify("/etc"); err != nil {
		t.Errorf("verifying the intact /etc: %v", err)
	}
	if err := verify("/etc", "/usr"); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "/usr:") {
		t.Errorf("verifying /etc and the tampered /usr = %v, want %v naming /usr", err, ErrTampered)
	}
}

// TestVerifyWholeNeedsRoot checks that a whole-baseline Verifier refuses a
// baseline whose entries do not start at "/".
func TestVerifyWholeNeedsRoot(t *testing.T) {
	db := newDB(t)
	info, hashes := writeBaseline(t, db, smallTree(), 1)
	v := NewVerifier(info, true)
	for _, e := range smallTree() {
		if merkle.Within(e.Path, "/etc") {
			v.Add(merkle.Node{Entry: e, Hash: hashes[e.Path]})
		}
	}
	if err := v.Finish(); !errors.Is(err, ErrTampered) {
		t.Errorf("whole Verifier fed only /etc = %v, want %v", err, ErrTampered)
	}
}

// TestDiffVerifies: a diff reads only the subtrees that differ, and checks
// every directory it lists against its parent's hash: a record changed in
// one of them fails the diff.
func TestDiffVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, second := model{}, model{}
	for _, e := range smallTree() {
		first[e.Path] = e
		c := *e
		second[e.Path] = &c
	}
	second["/etc/passwd"].Hash[0]++
	writeModel(t, db, first, nil, nil, 5)
	cur, _ := db.Current()
	in := writeModel(t, db, second, first, cur, 5)
	db.Close()
	tamper(t, path, in.ID, flipHashByte("/etc/passwd"))
	db, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, _ := db.Baseline(in.ID - 1)
	b, _ := db.Baseline(in.ID)
	err = merkle.Diff(a, b, "/", func(merkle.Change) error { return nil })
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "/etc") {
		t.Errorf("Diff with a tampered record below /etc = %v, want %v naming /etc", err, ErrTampered)
	}
}
