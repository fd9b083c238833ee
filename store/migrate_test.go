package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// writeV1 writes a schema 1 database as vigil 0.1 did: one bucket per
// baseline holding its info and every entry, v1 node hashes.
func writeV1(t *testing.T, path string, trees ...[]*merkle.Entry) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket(bucketMeta)
		bs, _ := tx.CreateBucket(bucketBaselines)
		if err := m.Put(keySchema, binary.BigEndian.AppendUint32(nil, 1)); err != nil {
			return err
		}
		for i, tree := range trees {
			id := uint64(i + 3)
			bk, _ := bs.CreateBucket(idKey(id))
			eb, _ := bk.CreateBucket([]byte("entries"))
			b := merkle.NewBuilderVersion(merkle.V1, func(n merkle.Node) error {
				var h *merkle.Hash
				if n.Entry.Type == merkle.TypeDir {
					h = &n.Hash
				}
				return eb.Put(appendKey(nil, n.Entry.Path), appendRecord(nil, n.Entry, h))
			})
			for _, e := range tree {
				if err := b.Add(e); err != nil {
					return err
				}
			}
			root, err := b.Finish()
			if err != nil {
				return err
			}
			var counts Counts
			for _, e := range tree {
				counts.Add(e)
			}
			raw, _ := json.Marshal(Info{ID: id, Command: "init", Root: RootHash(root), Complete: true, Roots: []string{"/"}, Counts: counts})
			if err := bk.Put([]byte("info"), raw); err != nil {
				return err
			}
			if err := m.Put(keyCurrent, idKey(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	second := append(smallTree(), fileEntry("/usr/zz", 9))
	writeV1(t, path, smallTree(), second)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchema) {
		t.Fatalf("Open of a schema 1 database = %v, want %v", err, ErrSchema)
	}
	n, err := Migrate(path)
	if err != nil || n != 2 {
		t.Fatalf("Migrate = %d, %v; want 2 baselines", n, err)
	}
	if _, err := os.Stat(path + ".v1"); err != nil {
		t.Errorf("the old file is not kept: %v", err)
	}
	db := openDB(t, path, Options{})
	for id, tree := range map[uint64][]*merkle.Entry{3: smallTree(), 4: second} {
		m := model{}
		for _, e := range tree {
			m[e.Path] = e
		}
		checkModel(t, db, id, m)
	}
	if cur, err := db.Current(); err != nil || cur.Info().ID != 4 {
		t.Errorf("Current after Migrate = %v, %v; want baseline 4", cur, err)
	}
	// The next baseline continues the ids and shares nothing it must not.
	cur, _ := db.Current()
	m := model{}
	for _, e := range second {
		m[e.Path] = e
	}
	next := m.mutate(rand.New(rand.NewPCG(1, 2)), 3, new(int))
	if in := writeModel(t, db, next, m, cur, 5); in.ID != 5 {
		t.Errorf("first baseline after Migrate has id %d, want 5", in.ID)
	}
}

func TestMigrateRefusesTampered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	writeV1(t, path, smallTree())
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		eb := tx.Bucket(bucketBaselines).Bucket(idKey(3)).Bucket([]byte("entries"))
		e := fileEntry("/etc/passwd", 77) // not what the v1 hashes vouch for
		return eb.Put(appendKey(nil, e.Path), appendRecord(nil, e, nil))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := Migrate(path); !errors.Is(err, ErrTampered) {
		t.Fatalf("Migrate of a tampered v1 database = %v, want %v", err, ErrTampered)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Errorf("a refused migration changed %s", path)
	}
	for _, leftover := range []string{path + ".v1", path + ".migrate"} {
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused migration left %s (%v)", leftover, err)
		}
	}
}
