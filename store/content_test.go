package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// sum stands for the content hash: the store keeps content under the hash
// it is given and never computes one.
func sum(data []byte) merkle.Hash { return sha256.Sum256(data) }

// keptFile returns a regular file entry whose content hash is that of data.
func keptFile(p string, data []byte) *merkle.Entry {
	return &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644, Size: int64(len(data)), Nlink: 1, Inode: uint64(len(p)),
		Attrs: merkle.AttrAll, HashState: merkle.HashOK, Hash: sum(data)}
}

// writeKept writes a whole baseline of / and /etc with one file per content,
// keeping each content, and commits it keeping keep baselines.
func writeKept(t *testing.T, db *DB, keep int, contents map[string][]byte) {
	t.Helper()
	w, err := db.Create(Info{Command: "init", Roots: []string{"/"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	b := merkle.NewBuilder(w.Add)
	for _, d := range []string{"/", "/etc"} {
		if err := b.Add(dirEntry(d)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		data, ok := contents[name]
		if !ok {
			continue
		}
		e := keptFile("/etc/"+name, data)
		if err := w.PutContent(e.Hash, data); err != nil {
			t.Fatalf("PutContent(%s): %v", e.Path, err)
		}
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(root, keep); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func TestContentKeptSharedReleased(t *testing.T) {
	db := newDB(t)
	sshd := bytes.Repeat([]byte("PermitRootLogin no\n"), 200)
	other := []byte("other\n")
	// Two paths, one content: one copy.
	writeKept(t, db, 2, map[string][]byte{"a": sshd, "b": sshd, "c": other})
	n, size, err := db.ContentStats()
	if err != nil || n != 2 {
		t.Fatalf("ContentStats after two distinct contents: %d, %v; want 2", n, err)
	}
	if size >= int64(len(sshd)) {
		t.Errorf("ContentStats: %d bytes stored for %d bytes of repetitive text, want it compressed", size, len(sshd))
	}
	for _, data := range [][]byte{sshd, other} {
		got, err := db.Content(sum(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Content(%q...) = %q, %v; want it back", data[:5], got, err)
		}
	}
	// A second baseline holding only sshd: other is still needed by the
	// first (keep 2); a third drops the first and other with it.
	writeKept(t, db, 2, map[string][]byte{"a": sshd})
	if _, _, err := db.Compact(); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if ok, err := db.HasContent(sum(other)); !ok || err != nil {
		t.Fatalf("HasContent(other) with the first baseline kept = %v, %v; want true", ok, err)
	}
	writeKept(t, db, 2, map[string][]byte{"b": sshd})
	if _, _, err := db.Compact(); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if ok, err := db.HasContent(sum(other)); ok || err != nil {
		t.Errorf("HasContent(other) after its last baseline went = %v, %v; want false", ok, err)
	}
	if _, err := db.Content(sum(other)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Content(released) error %v, want ErrNotFound", err)
	}
	if got, err := db.Content(sum(sshd)); err != nil || !bytes.Equal(got, sshd) {
		t.Errorf("Content(sshd) after compact: %v, want it kept", err)
	}
}

func TestContentAbortedNotCurrent(t *testing.T) {
	db := newDB(t)
	w, err := db.Create(Info{Command: "init", Roots: []string{"/etc"}})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("x\n")
	if err := w.PutContent(sum(data), data); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.HasContent(sum(data)); ok {
		t.Errorf("content put by an aborted writer that never flushed is kept")
	}
	if err := w.PutContent(sum(data), make([]byte, MaxContent+1)); err == nil {
		t.Errorf("PutContent of %d bytes: no error", MaxContent+1)
	}
}

func TestCheckDamagedContent(t *testing.T) {
	db := newDB(t)
	writeKept(t, db, 1, map[string][]byte{"a": []byte("text\n")})
	h := sum([]byte("text\n"))
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContent).Put(h[:], []byte{contentZstd, 0xde, 0xad})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check with damaged content: %v, want ErrCorrupt", err)
	}
	if _, err := db.Content(h); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Content(damaged): %v, want ErrCorrupt", err)
	}
	// Put it right, so that openDB's check at the end passes.
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContent).Delete(h[:])
	}); err != nil {
		t.Fatal(err)
	}
}

// TestContentInTwoBubbles keeps and reads content in one testing/synctest
// bubble and then in another. The zstd coders hand their state around on
// channels, which belong to the bubble that made them: coders shared by the
// whole package, made in the first bubble, crashed the second ("receive on
// synctest channel from outside bubble"), as the daemon's tests did with
// -count=2.
func TestContentInTwoBubbles(t *testing.T) {
	for i := range 2 {
		synctest.Test(t, func(t *testing.T) {
			data := []byte(fmt.Sprintf("kept in bubble %d\n", i))
			db := newDB(t)
			writeKept(t, db, 1, map[string][]byte{"a": data})
			got, err := db.Content(sum(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Content in bubble %d = %q, %v; want %q", i, got, err, data)
			}
		})
	}
}
