package store

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Info describes one baseline.
type Info struct {
	ID           uint64    `json:"id"`
	Created      time.Time `json:"created"`
	Command      string    `json:"command"`          // "init" or "update"
	Parent       uint64    `json:"parent,omitempty"` // the baseline an update started from
	Host         string    `json:"host"`
	Roots        []string  `json:"roots"`
	ConfigDigest string    `json:"config_digest"`
	Version      string    `json:"vigil_version"`
	Root         RootHash  `json:"root"`
	Counts       Counts    `json:"counts"`
	Complete     bool      `json:"complete"`
	// Signature is reserved for a signature of Root.
	Signature []byte `json:"signature,omitempty"`
	// SignedBy names the key that made Signature.
	SignedBy string `json:"signed_by,omitempty"`
}

// Counts are a baseline's totals.
type Counts struct {
	Entries     int64 `json:"entries"`
	Files       int64 `json:"files"`
	Dirs        int64 `json:"dirs"`
	Symlinks    int64 `json:"symlinks"`
	Other       int64 `json:"other"`
	Bytes       int64 `json:"bytes"` // total size of regular files
	Errors      int64 `json:"errors"`
	HashSkipped int64 `json:"hash_skipped"`
	Unstable    int64 `json:"unstable"`
}

// Add counts e.
func (c *Counts) Add(e *merkle.Entry) {
	c.Entries++
	switch e.Type {
	case merkle.TypeFile:
		c.Files++
		c.Bytes += e.Size
	case merkle.TypeDir:
		c.Dirs++
	case merkle.TypeSymlink:
		c.Symlinks++
	default:
		c.Other++
	}
	if e.Err != "" {
		c.Errors++
	}
	switch e.HashState {
	case merkle.HashSkipped:
		c.HashSkipped++
	case merkle.HashUnstable:
		c.Unstable++
	}
}

// RootHash is a node hash that reads and writes as hex in JSON.
type RootHash merkle.Hash

// String returns the hash in hex.
func (h RootHash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h RootHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *RootHash) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(h) {
		return fmt.Errorf("%w: root hash length", ErrCorrupt)
	}
	_, err := hex.Decode(h[:], b)
	return err
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// readInfo decodes the info of the baseline bucket b.
func readInfo(b *bolt.Bucket, id uint64) (Info, error) {
	var in Info
	raw := b.Get(keyInfo)
	if raw == nil {
		return in, fmt.Errorf("baseline %d: %w: no info", id, ErrCorrupt)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return in, fmt.Errorf("baseline %d: %w: info: %w", id, ErrCorrupt, err)
	}
	in.ID = id
	return in, nil
}

// Baselines lists every complete baseline, oldest first.
func (db *DB) Baselines() ([]Info, error) {
	var out []Info
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBaselines).ForEachBucket(func(k []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: baseline key %x", ErrCorrupt, k)
			}
			id := binary.BigEndian.Uint64(k)
			in, err := readInfo(tx.Bucket(bucketBaselines).Bucket(k), id)
			if err != nil {
				return err
			}
			if in.Complete {
				out = append(out, in)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// Current returns the current baseline, or [ErrNoBaseline].
func (db *DB) Current() (*Baseline, error) {
	var id uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyCurrent)
		switch len(v) {
		case 0:
			return ErrNoBaseline
		case 8:
			id = binary.BigEndian.Uint64(v)
			return nil
		}
		return fmt.Errorf("%w: current key", ErrCorrupt)
	})
	if err != nil {
		return nil, err
	}
	return db.Baseline(id)
}

// Baseline returns the baseline with the given id.
func (db *DB) Baseline(id uint64) (*Baseline, error) {
	b := &Baseline{db: db}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBaselines).Bucket(idKey(id))
		if bk == nil {
			return fmt.Errorf("baseline %d: %w", id, ErrNotFound)
		}
		if bk.Bucket(bucketEntries) == nil {
			return fmt.Errorf("baseline %d: %w: no entries bucket", id, ErrCorrupt)
		}
		in, err := readInfo(bk, id)
		b.info = in
		return err
	})
	if err != nil {
		return nil, err
	}
	if !b.info.Complete {
		return nil, fmt.Errorf("baseline %d: %w (incomplete)", id, ErrNotFound)
	}
	return b, nil
}
