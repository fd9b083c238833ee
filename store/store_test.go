package store

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// openDB opens the database at path and, when the test ends, runs
// [DB.Check] on it and closes it, as bbolt's internal/btesting does.
func openDB(t *testing.T, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", path, opts, err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("Check(%s) after the test: %v", path, err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close(%s): %v", path, err)
		}
	})
	return db
}

// newDB opens a new database in a temporary directory.
func newDB(t *testing.T) *DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "vigil.db"), Options{})
}

// writeBaseline writes entries (in ComparePaths order) as a new baseline
// through a merkle.Builder and commits it keeping keep baselines. It returns
// the baseline's info and every node's hash.
func writeBaseline(t *testing.T, db *DB, entries []*merkle.Entry, keep int) (Info, map[string]merkle.Hash) {
	t.Helper()
	w, err := db.Create(Info{Command: "init", Host: "test", Roots: []string{"/"}, Created: time.Unix(1e9, 0).UTC()})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	hashes := map[string]merkle.Hash{}
	b := merkle.NewBuilder(func(n merkle.Node) error {
		hashes[n.Entry.Path] = n.Hash
		return w.Add(n)
	})
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatalf("Builder.Add(%s): %v", e.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("Builder.Finish: %v", err)
	}
	info, err := w.Commit(root, keep)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if merkle.Hash(info.Root) != root || !info.Complete || info.ID != w.ID() {
		t.Fatalf("Commit returned %+v, want root %x, complete, id %d", info, root, w.ID())
	}
	return info, hashes
}

func dirEntry(p string) *merkle.Entry {
	return &merkle.Entry{Path: p, Type: merkle.TypeDir, Perm: 0o755, Size: 4096, Nlink: 2, Inode: uint64(len(p)), Attrs: merkle.AttrAll}
}

func fileEntry(p string, n int) *merkle.Entry {
	e := &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644, Size: int64(n), Mtime: int64(n) * 1e9,
		Ctime: int64(n)*1e9 + 1, Inode: uint64(1000 + n), Nlink: 1, Dev: 2049, HashState: merkle.HashOK,
		HashedAt: 42, Attrs: merkle.AttrAll}
	binary.LittleEndian.PutUint64(e.Hash[:], uint64(n))
	return e
}

// smallTree is a tree with a few of everything.
func smallTree() []*merkle.Entry {
	link := &merkle.Entry{Path: "/etc/localtime", Type: merkle.TypeSymlink, Perm: 0o777, Target: "/usr/share/zoneinfo/UTC", Attrs: merkle.AttrAll}
	ping := fileEntry("/usr/ping", 3)
	ping.Xattrs = []merkle.Xattr{{Name: "security.capability", Value: []byte{1, 2}}}
	ping.HasFlags, ping.Flags = true, 0x10
	shadow := fileEntry("/etc/shadow", 4)
	shadow.HashState, shadow.Hash, shadow.Err = merkle.HashFailed, [32]byte{}, "open: EACCES"
	return []*merkle.Entry{
		dirEntry("/"),
		dirEntry("/etc"),
		dirEntry("/etc/empty"),
		fileEntry("/etc/hosts", 1),
		link,
		fileEntry("/etc/passwd", 2),
		shadow,
		fileEntry("/etc-old", 5),
		dirEntry("/usr"),
		ping,
		{Path: "/usr/tty", Type: merkle.TypeCharDev, Perm: 0o620, Rdev: 0x400, Attrs: merkle.AttrAll},
	}
}

func TestOpenCreatesSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	db := openDB(t, path, Options{})
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if _, err := db.Current(); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("Current() on a new database = %v, want %v", err, ErrNoBaseline)
	}
	if infos, err := db.Baselines(); err != nil || len(infos) != 0 {
		t.Errorf("Baselines() on a new database = %v, %v; want none", infos, err)
	}
	if n, err := db.Size(); err != nil || n <= 0 {
		t.Errorf("Size() = %d, %v; want > 0", n, err)
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	db, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%s, ReadOnly) = %v, %v; want an error wrapping fs.ErrNotExist", path, db, err)
	}
	if db != nil {
		db.Close()
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(ReadOnly) created %s (stat: %v)", path, err)
	}
}

func TestOpenReadOnlyUninitialized(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, ErrNoBaseline) {
		t.Errorf("Open(bbolt file without buckets, ReadOnly) = %v, %v; want %v", db, err, ErrNoBaseline)
	}
	if db != nil {
		db.Close()
	}
}

// closedBaseline writes smallTree as the only baseline of a new database
// file and closes it, for tests that reopen it or change it with bbolt.
func closedBaseline(t *testing.T) (string, Info) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := writeBaseline(t, db, smallTree(), 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, info
}

func TestOpenReadOnly(t *testing.T) {
	path, info := closedBaseline(t)
	ro := openDB(t, path, Options{ReadOnly: true})
	cur, err := ro.Current()
	if err != nil {
		t.Fatalf("Current() read-only: %v", err)
	}
	if cur.Info().Root != info.Root {
		t.Errorf("read-only Current().Info().Root = %s, want %s", cur.Info().Root, info.Root)
	}
	// Readers share the file.
	ro2 := openDB(t, path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if _, err := ro2.Current(); err != nil {
		t.Errorf("Current() from a second reader: %v", err)
	}
	if _, err := ro.Create(Info{}); err == nil {
		t.Errorf("Create on a read-only database = nil error, want one")
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	openDB(t, path, Options{})
	start := time.Now()
	for _, opts := range []Options{{Timeout: 100 * time.Millisecond}, {ReadOnly: true, Timeout: 100 * time.Millisecond}} {
		db, err := Open(path, opts)
		if !errors.Is(err, ErrLocked) {
			t.Errorf("second Open(%+v) while a writer has it = %v, %v; want %v", opts, db, err, ErrLocked)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != path {
			t.Errorf("second Open(%+v) = %v, want a *fs.PathError for %s", opts, err, path)
		}
		if db != nil {
			db.Close()
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two opens with a 100ms timeout took %s", d)
	}
}

// setMeta writes key=value into the meta bucket of the database at path,
// bypassing the store.
func setMeta(t *testing.T, path string, key, value []byte) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(key, value) })
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchema(t *testing.T) {
	tests := []struct {
		name   string
		schema []byte
		want   error
	}{
		{"newer", binary.BigEndian.AppendUint32(nil, SchemaVersion+1), ErrSchema},
		{"older", binary.BigEndian.AppendUint32(nil, 1), ErrSchema},
		{"wrong length", []byte{1}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			setMeta(t, path, keySchema, tt.schema)
			for _, ro := range []bool{false, true} {
				db, err := Open(path, Options{ReadOnly: ro})
				if !errors.Is(err, tt.want) {
					t.Errorf("Open(ReadOnly: %v) with schema %x = %v, %v; want %v", ro, tt.schema, db, err, tt.want)
				}
				if db != nil {
					db.Close()
				}
			}
		})
	}
}

// TestOpenSchema2 opens a schema 2 database, which this version reads as it
// is, read-only or not; it is marked schema 3 only when a baseline is
// started in it, before any record that may carry a birth time is written,
// so that a vigil that reads only schema 2 refuses it as newer rather than
// misreading such a record (and a command refused before it writes
// changes nothing).
func TestOpenSchema2(t *testing.T) {
	path, info := closedBaseline(t)
	setMeta(t, path, keySchema, binary.BigEndian.AppendUint32(nil, schemaCompatible))
	schema := func(db *DB) uint32 {
		t.Helper()
		var v uint32
		if err := db.view(func(tx *bolt.Tx) error {
			v = binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keySchema))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, ro := range []bool{true, false} {
		db, err := Open(path, Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("Open(ReadOnly: %v) of a schema 2 database: %v", ro, err)
		}
		cur, err := db.Current()
		if err != nil || cur.Info().Root != info.Root {
			t.Errorf("Open(ReadOnly: %v): current baseline %v, %v; want root %x", ro, cur, err, info.Root[:8])
		}
		if !ro {
			if got := schema(db); got != schemaCompatible {
				t.Errorf("after Open: schema %d, want %d until a baseline is started", got, schemaCompatible)
			}
			w, err := db.Create(Info{Command: "init", Roots: []string{"/"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := schema(db); got != SchemaVersion {
				t.Errorf("after Create: schema %d, want %d", got, SchemaVersion)
			}
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
		} else if got := schema(db); got != schemaCompatible {
			t.Errorf("after Open(ReadOnly: true): schema %d, want %d", got, schemaCompatible)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenNotBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open(file of zeros) = %v, %v; want %v", db, err, ErrCorrupt)
	}
	if db != nil {
		db.Close()
	}
}

// TestOpenFileOption injects an I/O error through Options.OpenFile: it must
// reach the caller as itself, not as a corrupt database.
func TestOpenFileOption(t *testing.T) {
	eio := &fs.PathError{Op: "open", Path: "vigil.db", Err: syscall.EIO}
	path := filepath.Join(t.TempDir(), "vigil.db")
	db, err := Open(path, Options{OpenFile: func(string, int, os.FileMode) (*os.File, error) { return nil, eio }})
	if db != nil {
		db.Close()
	}
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("Open with a failing OpenFile = %v, want an error wrapping EIO", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Errorf("Open with a failing OpenFile = %v, want it not to claim ErrCorrupt (%v)", err, ErrCorrupt)
	}
}

func TestCurrentCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	setMeta(t, path, keyCurrent, []byte{1, 2, 3})
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Current(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Current() with a 3-byte current key = %v, want %v", err, ErrCorrupt)
	}
}

func TestCountsAdd(t *testing.T) {
	var c Counts
	for _, e := range smallTree() {
		c.Add(e)
	}
	skipped := fileEntry("/big", 1<<20)
	skipped.HashState = merkle.HashSkipped
	unstable := fileEntry("/log", 7)
	unstable.HashState = merkle.HashUnstable
	c.Add(skipped)
	c.Add(unstable)
	want := Counts{Entries: 13, Files: 7, Dirs: 4, Symlinks: 1, Other: 1, Bytes: 1 + 2 + 3 + 4 + 5 + 1<<20 + 7,
		Errors: 1, HashSkipped: 1, Unstable: 1}
	if c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
}

func TestRootHashText(t *testing.T) {
	h := RootHash{0xab, 0xcd}
	txt, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back RootHash
	if err := back.UnmarshalText(txt); err != nil || back != h {
		t.Errorf("UnmarshalText(MarshalText(%s)) = %s, %v", h, back, err)
	}
	if err := back.UnmarshalText([]byte("abcd")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalText(abcd) = %v, want %v", err, ErrCorrupt)
	}
	if err := back.UnmarshalText(make([]byte, 64)); err == nil {
		t.Errorf("UnmarshalText(64 NULs) = nil, want an error")
	}
}

// TestMetaFallbackDetected: bbolt keeps two meta pages and silently uses
// the older one when the newer is damaged, which puts the database back by
// one transaction (an older baseline current). Open says so, and Check
// fails.
func TestMetaFallbackDetected(t *testing.T) {
	path, first := closedBaseline(t)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := writeBaseline(t, db, bigTree(), 5)
	db.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	txid := func(p int) uint64 { return binary.LittleEndian.Uint64(raw[p*4096+pageHeader+48:]) }
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	raw[newest*4096+pageHeader+20] ^= 0xff // inside the meta page's root bucket id
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open with one damaged meta page: %v", err)
	}
	defer ro.Close()
	if w := ro.Warnings(); len(w) != 1 || !errors.Is(w[0], ErrCorrupt) || !strings.Contains(w[0].Error(), path) {
		t.Errorf("Warnings() = %v, want one ErrCorrupt naming %s", w, path)
	}
	if cur, err := ro.Current(); err == nil && cur.Info().ID == second.ID {
		t.Logf("current is still %d", second.ID)
	} else if err == nil && cur.Info().ID != first.ID {
		t.Errorf("current after the fallback = %d, want %d or %d", cur.Info().ID, first.ID, second.ID)
	}
	if err := ro.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check() = %v, want %v", err, ErrCorrupt)
	}
}

// TestOpenUnsafeFile: a database others can write (or a directory they can
// swap it in) is not written into; read-only, it is a warning.
func TestOpenUnsafeFile(t *testing.T) {
	path, _ := closedBaseline(t)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(path, Options{}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("Open for writing of a 0666 database = %v, %v; want %v", db, err, ErrUnsafe)
		if db != nil {
			db.Close()
		}
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only of a 0666 database: %v", err)
	}
	if w := ro.Warnings(); len(w) != 1 || !errors.Is(w[0], ErrUnsafe) {
		t.Errorf("Warnings() = %v, want one ErrUnsafe", w)
	}
	ro.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(path, Options{}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("Open for writing in a 0777 directory = %v, %v; want %v", db, err, ErrUnsafe)
		if db != nil {
			db.Close()
		}
	}
	os.Chmod(filepath.Dir(path), 0o700)
}
