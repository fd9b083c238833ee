package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"vigil/internal/fsys"
)

// A damaged file must give an error naming it, never a crash or a hang:
// bbolt reads the file through a memory map and trusts what it finds there,
// so a truncated file faults (SIGBUS) and a damaged page can panic. Every
// transaction this package runs goes through view or update, which turn a
// fault on the map or a panic inside bbolt into [ErrCorrupt], and [Open]
// checks the file's meta pages and size before bbolt maps it.

// view runs fn in a read transaction, guarded.
func (db *DB) view(fn func(*bolt.Tx) error) (err error) {
	defer guard(db.path, &err)()
	return db.bolt.View(fn)
}

// update runs fn in a write transaction, guarded. Options.Faults, if set,
// may fail its commit.
func (db *DB) update(fn func(*bolt.Tx) error) (err error) {
	defer guard(db.path, &err)()
	if db.faults == nil {
		return db.bolt.Update(fn)
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := db.faults.Inject(fsys.Write, db.path); err != nil {
			return &fs.PathError{Op: "commit", Path: db.path, Err: err}
		}
		return nil
	})
}

// guard makes faults on mapped memory panics for the calling goroutine and
// returns the function to defer, which recovers such a panic (or any panic
// bbolt raises on a damaged page) into an ErrCorrupt for path.
func guard(path string, err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			*err = &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %v", ErrCorrupt, r)}
		}
	}
}

// bbolt's meta page: after a 16-byte page header, magic, version, page
// size, flags (u32 each), the root bucket (u64 root page, u64 sequence),
// the freelist page, the high-water page id, the transaction id, then an
// FNV-64a checksum of everything before it (bbolt's internal/common).
const (
	pageHeader    = 16
	metaMagic     = 0xED0CDAED
	metaVersion   = 2
	metaSumOffset = 56
	metaSize      = 64
	minPageSize   = 512
	maxPageSize   = 1 << 16
)

type meta struct {
	pageSize   uint32
	pgid, txid uint64
}

// parseMeta decodes and validates one meta page's body.
func parseMeta(b []byte) (meta, error) {
	if len(b) < metaSize {
		return meta{}, errors.New("short meta page")
	}
	le := binary.LittleEndian
	if le.Uint32(b) != metaMagic || le.Uint32(b[4:]) != metaVersion {
		return meta{}, errors.New("not a bbolt meta page")
	}
	h := fnv.New64a()
	h.Write(b[:metaSumOffset])
	if h.Sum64() != le.Uint64(b[metaSumOffset:]) {
		return meta{}, errors.New("meta page checksum mismatch")
	}
	m := meta{pageSize: le.Uint32(b[8:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, fmt.Errorf("page size %d", m.pageSize)
	}
	return m, nil
}

// checkFile checks the database file at path before bbolt maps it: not
// empty, both meta pages readable, and no meta page naming pages beyond the
// end of the file. A missing file is fine (it is about to be created). It
// returns a fatal error, or a warning when one meta page is damaged and
// bbolt would silently fall back to the transaction before it.
func checkFile(path string) (warning, fatal error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	corrupt := func(format string, args ...any) error {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))}
	}
	if st.Size() == 0 {
		return nil, corrupt("empty file, not a vigil database (remove it to start over)")
	}
	read := func(off int64) ([]byte, error) {
		b := make([]byte, metaSize)
		_, err := f.ReadAt(b, off+pageHeader)
		if errors.Is(err, io.EOF) {
			return b, nil // short: parseMeta fails it
		}
		return b, err
	}
	b0, err := read(0)
	if err != nil {
		return nil, err
	}
	m0, err0 := parseMeta(b0)
	ps := int64(os.Getpagesize())
	if err0 == nil {
		ps = int64(m0.pageSize)
	}
	b1, err := read(ps)
	if err != nil {
		return nil, err
	}
	m1, err1 := parseMeta(b1)
	if err0 != nil && err1 != nil {
		return nil, corrupt("both meta pages are damaged (%v; %v)", err0, err1)
	}
	for i, m := range []meta{m0, m1} {
		if []error{err0, err1}[i] == nil && int64(m.pgid)*int64(m.pageSize) > st.Size() {
			return nil, corrupt("meta page %d says %d pages of %d bytes, the file holds %d bytes (truncated)", i, m.pgid, m.pageSize, st.Size())
		}
	}
	if st.Size()%ps != 0 {
		return nil, corrupt("size %d is not a multiple of the page size %d", st.Size(), ps)
	}
	switch {
	case err0 != nil:
		return corrupt("meta page 0 is damaged (%v): the database is as of transaction %d, and what came after it is lost", err0, m1.txid), nil
	case err1 != nil:
		return corrupt("meta page 1 is damaged (%v): the database is as of transaction %d, and what came after it is lost", err1, m0.txid), nil
	}
	return nil, nil
}

// checkOwner refuses to write into a database file, or a directory holding
// it, that someone other than the writer (or root) can change: they could
// rewrite the baseline, or swap the file. For a reader it is a warning.
func checkOwner(path string) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return &fs.PathError{Op: "stat", Path: p, Err: err}
		}
		dir := p != path
		others := st.Mode&0o002 != 0 && !(dir && st.Mode&syscall.S_ISVTX != 0)
		if !dir && st.Mode&0o022 != 0 || others {
			return &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: writable by others (mode %04o)", ErrUnsafe, st.Mode&0o7777)}
		}
		if euid := os.Geteuid(); st.Uid != uint32(euid) && st.Uid != 0 {
			return &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: owned by uid %d, not by uid %d or root", ErrUnsafe, st.Uid, euid)}
		}
	}
	return nil
}
