package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Migrate converts the schema 1 database at path to this schema, with every
// kept baseline, after verifying each against its v1 hashes: a baseline
// that fails them is not carried into a format whose hashes would vouch for
// it. The new file is written beside the old one and renamed over it; the
// old file stays at path + ".v1" (a hard link made first, so that a process
// killed at any moment leaves a complete database at path). Each baseline
// keeps its id and is stored whole; its Reason notes the v1 root. It
// returns the number of baselines migrated.
func Migrate(path string) (int, error) {
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: defaultTimeout})
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	defer src.Close()
	v1, current, err := readV1(src)
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	tmp := path + ".migrate"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	dst, err := Open(tmp, Options{})
	if err != nil {
		return 0, err
	}
	err = writeMigrated(dst, src, v1, current)
	err = errors.Join(err, dst.Close())
	if err == nil {
		if lerr := os.Link(path, path+".v1"); lerr != nil && !errors.Is(lerr, fs.ErrExist) {
			err = lerr
		}
	}
	if err == nil {
		err = replaceFile(tmp, path)
	}
	if err != nil {
		return 0, errors.Join(fmt.Errorf("migrate %s: %w", path, err), os.Remove(tmp))
	}
	return len(v1), nil
}

const defaultTimeout = 1e9 // one second, as Open's default

// readV1 reads and verifies the infos of a schema 1 database.
func readV1(src *bolt.DB) ([]Info, uint64, error) {
	var infos []Info
	var current uint64
	err := src.View(func(tx *bolt.Tx) error {
		m, bs := tx.Bucket(bucketMeta), tx.Bucket(bucketBaselines)
		if m == nil || bs == nil {
			return ErrNoBaseline
		}
		if v := m.Get(keySchema); len(v) != 4 || binary.BigEndian.Uint32(v) != 1 {
			return fmt.Errorf("%w: not a schema 1 database", ErrSchema)
		}
		if v := m.Get(keyCurrent); len(v) == 8 {
			current = binary.BigEndian.Uint64(v)
		}
		return bs.ForEachBucket(func(k []byte) error {
			bk := bs.Bucket(k)
			var in Info
			if err := json.Unmarshal(bk.Get([]byte("info")), &in); err != nil || len(k) != 8 {
				return fmt.Errorf("baseline %x: %w: info", k, ErrCorrupt)
			}
			in.ID = binary.BigEndian.Uint64(k)
			if !in.Complete {
				return nil
			}
			v := NewVerifier(in, true)
			v.version = merkle.V1
			if err := eachV1(bk, func(n merkle.Node) error { v.Add(n); return nil }); err != nil {
				return err
			}
			if err := v.Finish(); err != nil {
				return fmt.Errorf("baseline %d: %w", in.ID, err)
			}
			infos = append(infos, in)
			return nil
		})
	})
	slices.SortFunc(infos, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	if err == nil && len(infos) == 0 {
		err = ErrNoBaseline
	}
	return infos, current, err
}

// eachV1 calls fn with every node of a v1 baseline bucket in path order.
func eachV1(bk *bolt.Bucket, fn func(merkle.Node) error) error {
	eb := bk.Bucket([]byte("entries"))
	if eb == nil {
		return fmt.Errorf("%w: no entries", ErrCorrupt)
	}
	c := eb.Cursor()
	var prev []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(k, prev) <= 0 {
			return corruptKey(k, "key out of order")
		}
		prev = k
		n, err := storedNode(k, v)
		if err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// writeMigrated writes each v1 baseline whole into dst, under its own id.
func writeMigrated(dst *DB, src *bolt.DB, v1 []Info, current uint64) error {
	for _, in := range v1 {
		old := in.Root
		err := dst.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBaselines).SetSequence(in.ID - 1)
		})
		if err != nil {
			return err
		}
		in.Reason = fmt.Sprintf("migrated from schema 1 (v1 root %s)", old)
		w, err := dst.Create(in)
		if err != nil {
			return err
		}
		b := merkle.NewBuilder(w.Add)
		err = src.View(func(tx *bolt.Tx) error {
			return eachV1(tx.Bucket(bucketBaselines).Bucket(idKey(in.ID)), func(n merkle.Node) error {
				return b.Add(n.Entry)
			})
		})
		if err != nil {
			return errors.Join(err, w.Abort())
		}
		root, err := b.Finish()
		if err != nil {
			return errors.Join(err, w.Abort())
		}
		if _, err := w.Commit(root, len(v1)); err != nil {
			return err
		}
	}
	return dst.update(func(tx *bolt.Tx) error {
		if current == 0 {
			return nil
		}
		if tx.Bucket(bucketBaselines).Get(idKey(current)) == nil {
			return fmt.Errorf("current baseline %d: %w", current, ErrNotFound)
		}
		return tx.Bucket(bucketMeta).Put(keyCurrent, idKey(current))
	})
}
