package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"vigil/internal/fsys"
)

// initialMmap is the size of bbolt's first memory map of the file.
const initialMmap = 1 << 30

// SchemaVersion is the database layout this package writes. Schema 3 is
// schema 2 whose records may carry a birth time (recBtime): this package
// reads a schema 2 database as it is and marks it 3 in the transaction
// that starts its next baseline ([DB.Create]), before any such record is
// written, so that a vigil that reads only schema 2 refuses the database
// as newer (exit 19), instead of reporting records it cannot parse as
// corrupt (exit 8) after a rollback. A command refused before it writes a
// baseline leaves the mark as it was.
const SchemaVersion = 3

// schemaCompatible is the older schema this package reads without a
// migration.
const schemaCompatible = 2

var (
	bucketMeta      = []byte("meta")
	bucketBaselines = []byte("baselines")
	bucketEpochs    = []byte("epochs")
	bucketRecords   = []byte("records")
	bucketJournal   = []byte("journal")
	keySchema       = []byte("schema")
	keyCurrent      = []byte("current")
)

// Options configure [Open]. The zero value opens for writing, waiting up to
// one second for another process to let go of the file.
type Options struct {
	// ReadOnly opens the database for reading only; several readers may
	// share it. A missing file is an error.
	ReadOnly bool
	// Timeout is how long to wait for the file lock; 0 means one second.
	Timeout time.Duration
	// OpenFile, if set, replaces os.OpenFile (to inject faults in tests).
	OpenFile func(string, int, os.FileMode) (*os.File, error)
	// Faults, if set, is offered the commit of every write transaction,
	// as fsys.Write on the database's path: an error fails the commit,
	// which then writes nothing, as a failed write of bbolt's does (tests
	// fail the commits of an update one by one with it).
	Faults fsys.Injector
}

// DB is an open vigil database.
type DB struct {
	bolt   *bolt.DB
	path   string
	faults fsys.Injector
	// warnings are problems found at open that do not stop a read: a
	// damaged meta page (bbolt fell back to the transaction before), a
	// file others can change.
	warnings []error
	// dropMu guards dropWins, the windows of the map that reads left
	// mapped, and dropReads, the count of those reads (see dropRead).
	dropMu    sync.Mutex
	dropWins  []uintptr
	dropReads uint32
	codecs    codecs // for kept content
}

// Warnings returns the problems found when the database was opened that do
// not stop it from being read; [DB.Check] reports them as errors.
func (db *DB) Warnings() []error { return db.warnings }

// Open opens (creating it unless read-only) the database at path and checks
// its schema version. A file replaced while Open waited for its lock (by
// [DB.Compact] or a migration) is opened again, so that no writer ever
// writes into a file that is no longer at the path.
func Open(path string, opts Options) (*DB, error) {
	warning, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	owner := checkOwner(path)
	if owner != nil && !opts.ReadOnly {
		return nil, owner
	}
	for try := 0; ; try++ {
		before, _ := os.Stat(path)
		db, err := open(path, opts)
		if err != nil || try == 3 {
			return db, err
		}
		after, serr := os.Stat(path)
		if before == nil || serr != nil || os.SameFile(before, after) {
			for _, w := range []error{warning, owner} {
				if w != nil {
					db.warnings = append(db.warnings, w)
				}
			}
			return db, nil
		}
		if err := db.Close(); err != nil {
			return nil, err
		}
	}
}

func open(path string, opts Options) (*DB, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, err
		}
	}
	b, err := openBolt(path, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		FreelistType: bolt.FreelistMapType,
		OpenFile:     opts.OpenFile,
		// Address space, not memory: without it every growth of the file
		// during a write remaps it and copies all of the transaction's
		// pending nodes to the heap (half of a baseline write's
		// allocations; see BenchmarkWrite).
		InitialMmapSize: initialMmap,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrLocked}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, err // I/O or permission: bbolt already names the path
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
	}
	db := &DB{bolt: b, path: path, faults: opts.Faults, codecs: newCodecs()}
	if err := db.init(opts.ReadOnly); err != nil {
		b.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return db, nil
}

// init creates the top-level buckets and checks the schema version.
func (db *DB) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m != nil && tx.Bucket(bucketEpochs) == nil && m.Get(keySchema) != nil {
			return schemaError(m.Get(keySchema))
		}
		if m == nil || tx.Bucket(bucketBaselines) == nil {
			if readOnly {
				return ErrNoBaseline
			}
			return errNotInitialized
		}
		v := m.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: schema key", ErrCorrupt)
		}
		if s := binary.BigEndian.Uint32(v); s != SchemaVersion && s != schemaCompatible {
			return schemaError(v)
		}
		return nil
	}
	err := db.view(check)
	if !errors.Is(err, errNotInitialized) {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketBaselines); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketEpochs); err != nil {
			return err
		}
		if m.Get(keySchema) == nil {
			return m.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
		}
		return check(tx)
	})
}

var errNotInitialized = errors.New("not initialized")

// markSchema marks a schema 2 database as schema 3 (see [SchemaVersion]).
func markSchema(tx *bolt.Tx) error {
	m := tx.Bucket(bucketMeta)
	if v := m.Get(keySchema); len(v) == 4 && binary.BigEndian.Uint32(v) == SchemaVersion {
		return nil
	}
	return m.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
}

// schemaError describes a schema version other than this package's.
func schemaError(v []byte) error {
	if len(v) != 4 {
		return fmt.Errorf("%w: schema key", ErrCorrupt)
	}
	switch s := binary.BigEndian.Uint32(v); {
	case s < SchemaVersion:
		return fmt.Errorf("%w: version %d, written by an older vigil (run 'vigil migrate' to convert it)", ErrSchema, s)
	default:
		return fmt.Errorf("%w: version %d, this vigil reads %d", ErrSchema, s, SchemaVersion)
	}
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error { return db.bolt.Close() }

// Size returns the size of the database file in bytes.
func (db *DB) Size() (int64, error) {
	var n int64
	err := db.view(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// openBolt is bolt.Open, guarded: bbolt reads the meta pages through its
// map while it opens.
func openBolt(path string, o *bolt.Options) (b *bolt.DB, err error) {
	defer guard(path, &err)()
	return bolt.Open(path, 0o600, o)
}
