package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// Kept content (bucket "content"): the bytes of files a rule keeps for
// diffing (config's diff = true), each under its BLAKE3 content hash (the
// key, 32 bytes), zstd-compressed behind a one-byte format tag. One copy per
// distinct content, whatever the number of baselines and paths that hold
// it; written in the transaction of the baseline's records, so a crash
// leaves content only where it leaves records. The reader checks what it
// gets against the hash it asked for; [DB.Compact] releases content no
// record of a kept baseline refers to.

// MaxContent is the largest content [Writer.PutContent] keeps.
const MaxContent = 16 << 20

// contentZstd tags a zstd frame.
const contentZstd = 1

var bucketContent = []byte("content")

// contentFlushBytes is how many compressed bytes a Writer buffers before
// it writes a batch.
const contentFlushBytes = 8 << 20

// codecs are a database's zstd encoder and decoder, each made on its first
// use: most runs keep no content and need neither. They belong to the DB,
// not the package: klauspost's coders hand their state around on
// channels, and a channel made inside a testing/synctest bubble cannot be
// used outside it (a package-wide coder first used by one bubbled test
// crashed the next, "receive on synctest channel from outside bubble").
type codecs struct {
	enc func() *zstd.Encoder
	dec func() *zstd.Decoder
}

func newCodecs() codecs {
	return codecs{
		enc: sync.OnceValue(func() *zstd.Encoder {
			e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
			if err != nil {
				panic("store: zstd.NewWriter with constant options: " + err.Error())
			}
			return e
		}),
		dec: sync.OnceValue(func() *zstd.Decoder {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxContent))
			if err != nil {
				panic("store: zstd.NewReader with constant options: " + err.Error())
			}
			return d
		}),
	}
}

// PutContent keeps data, the content of a file whose content hash is h,
// with the records of the baseline being written (same transaction). Content
// already kept is not written again. data must be at most [MaxContent]
// bytes; the caller has checked that it hashes to h.
func (w *Writer) PutContent(h merkle.Hash, data []byte) error {
	if len(data) > MaxContent {
		return fmt.Errorf("content %x: %d bytes, more than %d", h[:8], len(data), MaxContent)
	}
	if w.content == nil {
		w.content = map[merkle.Hash][]byte{}
	}
	if _, ok := w.content[h]; ok {
		return nil
	}
	v := append([]byte{contentZstd}, w.db.codecs.enc().EncodeAll(data, nil)...)
	w.content[h] = v
	w.contentBytes += len(v)
	if w.contentBytes >= contentFlushBytes {
		return w.flush()
	}
	return nil
}

// putContent writes the buffered content in tx.
func (w *Writer) putContent(tx *bolt.Tx) error {
	if len(w.content) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketContent)
	if err != nil {
		return err
	}
	for h, v := range w.content {
		if b.Get(h[:]) != nil {
			continue
		}
		if err := b.Put(h[:], v); err != nil {
			return fmt.Errorf("content %x: %w", h[:8], err)
		}
	}
	return nil
}

// HasContent reports whether the content with hash h is kept.
func (db *DB) HasContent(h merkle.Hash) (bool, error) {
	var ok bool
	err := db.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketContent); b != nil {
			ok = b.Get(h[:]) != nil
		}
		return nil
	})
	return ok, err
}

// Content returns the kept content with hash h, [ErrNotFound] when none is
// kept. It does not check the hash: the caller does, with the hash it
// trusts (from a verified record).
func (db *DB) Content(h merkle.Hash) ([]byte, error) {
	var v []byte
	err := db.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketContent); b != nil {
			v = append([]byte(nil), b.Get(h[:])...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("content %x: %w", h[:8], ErrNotFound)
	}
	if v[0] != contentZstd {
		return nil, fmt.Errorf("content %x: format %d: %w", h[:8], v[0], ErrCorrupt)
	}
	data, err := db.codecs.dec().DecodeAll(v[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("content %x: %w: %w", h[:8], ErrCorrupt, err)
	}
	return data, nil
}

// Content is [DB.Content] of the baseline's database.
func (b *Baseline) Content(h merkle.Hash) ([]byte, error) { return b.db.Content(h) }

// ContentStats counts the kept contents and their stored (compressed)
// bytes.
func (db *DB) ContentStats() (n int, bytes int64, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContent)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n++
			bytes += int64(len(v))
			return nil
		})
	})
	return n, bytes, err
}

// InUse returns the bytes of the database's pages that hold data: its
// size less its free and pending pages (bbolt reuses those before it grows
// the file).
func (db *DB) InUse() (int64, error) {
	size, err := db.Size()
	if err != nil {
		return 0, err
	}
	st := db.bolt.Stats()
	return size - int64(st.FreePageN+st.PendingPageN)*int64(db.bolt.Info().PageSize), nil
}

// releaseContent deletes the kept content no stored record refers to
// (records of kept baselines, and versions not yet freed, which only
// keep more). It returns how many it released.
func (db *DB) releaseContent() (int, error) {
	var dead [][]byte
	err := db.view(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketContent)
		if cb == nil || cb.Stats().KeyN == 0 {
			return nil
		}
		used, err := usedContent(tx)
		if err != nil {
			return err
		}
		return cb.ForEach(func(k, _ []byte) error {
			if _, ok := used[merkle.Hash(k)]; !ok && len(k) == len(merkle.Hash{}) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	for chunk := range slices.Chunk(dead, batchEntries) {
		err := db.update(func(tx *bolt.Tx) error {
			cb := tx.Bucket(bucketContent)
			if cb == nil {
				return errors.New("content bucket gone")
			}
			for _, k := range chunk {
				if err := cb.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("%s: release content: %w", db.path, err)
		}
	}
	return len(dead), nil
}

// usedContent returns the content hashes of every regular file record
// stored, in every epoch.
func usedContent(tx *bolt.Tx) (map[merkle.Hash]struct{}, error) {
	used := map[merkle.Hash]struct{}{}
	eps := tx.Bucket(bucketEpochs)
	if eps == nil {
		return used, nil
	}
	err := eps.ForEachBucket(func(ek []byte) error {
		rb := eps.Bucket(ek).Bucket(bucketRecords)
		if rb == nil {
			return nil
		}
		return rb.ForEach(func(k, v []byte) error {
			if bytes.Equal(v, tombstone) {
				return nil
			}
			e, _, err := decodeRecord("", v)
			if err != nil {
				return fmt.Errorf("epoch %x: %w", ek, err)
			}
			if e.Type == merkle.TypeFile && e.HashState == merkle.HashOK {
				used[e.Hash] = struct{}{}
			}
			return nil
		})
	})
	return used, err
}

// checkContent checks that every kept content is under a 32-byte key and
// decompresses (its hash is checked by each reader, against a verified
// record).
func (db *DB) checkContent(tx *bolt.Tx) error {
	b := tx.Bucket(bucketContent)
	if b == nil {
		return nil
	}
	var errs []error
	err := b.ForEach(func(k, v []byte) error {
		switch {
		case len(k) != len(merkle.Hash{}):
			errs = append(errs, fmt.Errorf("content key %x: %w: not a hash", k, ErrCorrupt))
		case len(v) == 0 || v[0] != contentZstd:
			errs = append(errs, fmt.Errorf("content %x: %w: unknown format", k[:8], ErrCorrupt))
		default:
			if _, err := db.codecs.dec().DecodeAll(v[1:], nil); err != nil {
				errs = append(errs, fmt.Errorf("content %x: %w: %w", k[:8], ErrCorrupt, err))
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}
