package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Info describes one baseline.
type Info struct {
	ID      uint64    `json:"id"`
	Created time.Time `json:"created"`
	Command string    `json:"command"`          // "init", "update" or "migrate"
	Parent  uint64    `json:"parent,omitempty"` // the baseline an update started from
	// Epoch is the full baseline this one shares its records with: its own
	// id for a baseline written whole (init), its parent's epoch for an
	// update, which stores only what changed.
	Epoch uint64 `json:"epoch"`
	// Changes counts the records the baseline wrote: every entry for a
	// whole baseline, the changed ones (with their directories) for an
	// update.
	Changes int64 `json:"changes"`
	// Reason is why the baseline was taken, as its author said.
	Reason string `json:"reason,omitempty"`
	// User and UID say who took it (login name, real uid).
	User         string   `json:"user,omitempty"`
	UID          int64    `json:"uid"`
	Host         string   `json:"host"`
	Roots        []string `json:"roots"`
	ConfigDigest string   `json:"config_digest"`
	Version      string   `json:"vigil_version"`
	Root         RootHash `json:"root"`
	// PortableRoot is the root of the portable tree (merkle.PortableAttrs):
	// equal on two hosts holding equal files; zero when not computed.
	PortableRoot RootHash `json:"portable_root,omitzero"`
	Counts       Counts   `json:"counts"`
	Complete     bool     `json:"complete"`
	// Phase is the host's security phase when the baseline was taken
	// ("setup" or "hardened").
	Phase string `json:"phase,omitempty"`
	// AuditSize and AuditRoot are the audit log's size and tree hash before
	// the baseline's own audit record: a signed statement commits to them.
	AuditSize int64  `json:"audit_size"`
	AuditRoot string `json:"audit_root,omitempty"`
	// Signature is the signed note of the baseline's statement (seal,
	// reseal), empty for an unsigned baseline.
	Signature []byte `json:"signature,omitempty"`
	// SignedBy names the key that made Signature.
	SignedBy string `json:"signed_by,omitempty"`
	// Snapshots are the read-only Btrfs snapshots the baseline was read
	// from, one for each root on Btrfs: the trusted source of restores and
	// the lower bound of a fast check.
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	// DevStats are the error counters of the Btrfs devices holding the
	// roots when the baseline was taken.
	DevStats []DevStats `json:"dev_stats,omitempty"`
	// Posture is the security posture recorded with the baseline; nil
	// when none was (see [Posture]).
	Posture *Posture `json:"posture,omitempty"`
	// Nix is the Nix store's sealed records' tree; nil when none was
	// recorded (see [NixTree]).
	Nix *NixTree `json:"nix,omitempty"`
}

// Snapshot is what a baseline records of the read-only Btrfs snapshot a
// root was read from.
type Snapshot struct {
	// Root is the baseline root it holds, Top the live subvolume's top
	// directory that Root lies in; Path is the snapshot's top directory:
	// Root's entries are at Path joined with Root relative to Top.
	Root string `json:"root"`
	Top  string `json:"top"`
	Path string `json:"path"`
	// ID, UUID, OTransid and CTransid identify the snapshot; a snapshot
	// is trusted only while they are as recorded (btrfs.Trust).
	ID       uint64 `json:"id"`
	UUID     string `json:"uuid"`
	OTransid uint64 `json:"otransid"`
	CTransid uint64 `json:"ctransid"`
	// LiveID and LiveUUID name the live subvolume it was taken of.
	LiveID   uint64 `json:"live_id"`
	LiveUUID string `json:"live_uuid"`
	// Foreign are the directories below Root on another device when it
	// was taken (mount points and nested subvolumes): a search of the
	// snapshot's tree does not see into them.
	Foreign []string `json:"foreign,omitempty"`
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

// Sub takes e out of the counts again.
func (c *Counts) Sub(e *merkle.Entry) {
	var d Counts
	d.Add(e)
	c.Entries -= d.Entries
	c.Files -= d.Files
	c.Bytes -= d.Bytes
	c.Dirs -= d.Dirs
	c.Symlinks -= d.Symlinks
	c.Other -= d.Other
	c.Errors -= d.Errors
	c.HashSkipped -= d.HashSkipped
	c.Unstable -= d.Unstable
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

// epoch returns the bucket of epoch id, nil if there is none.
func epoch(tx *bolt.Tx, id uint64) *bolt.Bucket {
	return tx.Bucket(bucketEpochs).Bucket(idKey(id))
}

// records returns the records bucket of epoch id, nil if there is none.
func records(tx *bolt.Tx, id uint64) *bolt.Bucket {
	if e := epoch(tx, id); e != nil {
		return e.Bucket(bucketRecords)
	}
	return nil
}

// decodeInfo decodes the info of baseline id.
func decodeInfo(raw []byte, id uint64) (Info, error) {
	var in Info
	if raw == nil {
		return in, fmt.Errorf("baseline %d: %w", id, ErrNotFound)
	}
	// Strict: a field this vigil does not know is damage, not news (a flipped
	// bit in a key name would otherwise leave the field at its zero value).
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return in, fmt.Errorf("baseline %d: %w: info: %v", id, ErrCorrupt, err)
	}
	if in.ID != id || in.Epoch == 0 || in.Epoch > id {
		return in, fmt.Errorf("baseline %d: %w: info names baseline %d of epoch %d", id, ErrCorrupt, in.ID, in.Epoch)
	}
	return in, nil
}

func putInfo(bs *bolt.Bucket, in Info) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return bs.Put(idKey(in.ID), raw)
}

// allInfos returns every baseline's info, complete or not, oldest first.
func allInfos(tx *bolt.Tx) ([]Info, error) {
	var out []Info
	err := tx.Bucket(bucketBaselines).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: baseline key %x", ErrCorrupt, k)
		}
		in, err := decodeInfo(v, binary.BigEndian.Uint64(k))
		out = append(out, in)
		return err
	})
	return out, err
}

// Baselines lists every complete baseline, oldest first.
func (db *DB) Baselines() ([]Info, error) {
	var out []Info
	err := db.view(func(tx *bolt.Tx) error {
		all, err := allInfos(tx)
		for _, in := range all {
			if in.Complete {
				out = append(out, in)
			}
		}
		return err
	})
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// Current returns the current baseline, or [ErrNoBaseline].
func (db *DB) Current() (*Baseline, error) {
	var id uint64
	err := db.view(func(tx *bolt.Tx) error {
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
	err := db.view(func(tx *bolt.Tx) error {
		in, err := decodeInfo(tx.Bucket(bucketBaselines).Get(idKey(id)), id)
		if err != nil {
			return err
		}
		if records(tx, in.Epoch) == nil {
			return fmt.Errorf("baseline %d: %w: no records of epoch %d", id, ErrCorrupt, in.Epoch)
		}
		b.info = in
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !b.info.Complete {
		return nil, fmt.Errorf("baseline %d: %w (incomplete)", id, ErrNotFound)
	}
	return b, nil
}

// Resolve returns the baseline that spec names: a baseline id as
// [DB.Baselines] lists them, or a prefix of its root hash in hex (at least
// four digits) that no other kept baseline shares.
func (db *DB) Resolve(spec string) (*Baseline, error) {
	all, err := db.Baselines()
	if err != nil {
		return nil, err
	}
	if id, err := strconv.ParseUint(spec, 10, 64); err == nil {
		for _, in := range all {
			if in.ID == id {
				return db.Baseline(id)
			}
		}
	}
	if len(spec) < 4 {
		return nil, fmt.Errorf("baseline %q: %w (an id, or four or more hex digits of a root)", spec, ErrNotFound)
	}
	var found []uint64
	for _, in := range all {
		if strings.HasPrefix(in.Root.String(), strings.ToLower(spec)) {
			found = append(found, in.ID)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("baseline %q: %w", spec, ErrNotFound)
	case 1:
		return db.Baseline(found[0])
	}
	return nil, fmt.Errorf("baseline %q: %w: the prefix matches baselines %v", spec, ErrAmbiguous, found)
}

// SetSignature attaches a signed note to baseline id, as one transaction.
func (db *DB) SetSignature(id uint64, sig []byte, by string, audit []byte) error {
	return db.update(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucketBaselines)
		in, err := decodeInfo(bs.Get(idKey(id)), id)
		if err != nil {
			return err
		}
		in.Signature, in.SignedBy = sig, by
		if audit != nil {
			if _, err := appendAudit(tx, audit); err != nil {
				return err
			}
		}
		return putInfo(bs, in)
	})
}
