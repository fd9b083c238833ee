package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize is how many bytes bbolt's Compact copies per transaction.
const compactTxSize = 64 << 20

// Compact rewrites the database into a new file beside it, holding only the
// kept baselines, and switches it in with one rename, so the file shrinks
// (bbolt reuses freed pages but never returns them). A process killed at any
// moment leaves either the old file or the new one at the path, both
// complete; a leftover temporary file is replaced by the next Compact. It
// returns the file's size before and after.
func (db *DB) Compact() (before, after int64, err error) {
	if err := db.collect(); err != nil {
		return 0, 0, err
	}
	if _, err := db.releaseContent(); err != nil {
		return 0, 0, err
	}
	if before, err = db.Size(); err != nil {
		return 0, 0, err
	}
	tmp := db.path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return before, 0, err
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return before, 0, err
	}
	err = compactGuarded(db.path, dst, db.bolt)
	if err == nil {
		err = dst.Sync()
	}
	if err == nil {
		err = dst.View(func(tx *bolt.Tx) error { after = tx.Size(); return nil })
	}
	err = errors.Join(err, dst.Close())
	if err == nil {
		err = replaceFile(tmp, db.path)
	}
	if err != nil {
		return before, 0, errors.Join(fmt.Errorf("compact %s: %w", db.path, err), os.Remove(tmp))
	}
	return before, after, nil
}

// replaceFile renames tmp over path and makes the rename durable.
func replaceFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// compactGuarded is bolt.Compact, guarded against a damaged source.
func compactGuarded(path string, dst, src *bolt.DB) (err error) {
	defer guard(path, &err)()
	return bolt.Compact(dst, src, compactTxSize)
}
