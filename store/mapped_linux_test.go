package store

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"vigil/merkle"
)

// TestStatCacheLetsGoOfMappedPages checks that reading the stat cache a
// directory at a time, as a scan does, leaves few of the database's pages
// mapped in the process, where reading the same records without letting go
// leaves them all.
func TestStatCacheLetsGoOfMappedPages(t *testing.T) {
	db, cur, _ := mappedBaseline(t)
	all := mapEveryRecord(t, db, cur)
	cache := cur.Cache()
	for d := range mappedDirs {
		dir := fmt.Sprintf("/d%04d", d)
		got, err := cache.Children(dir, "", 4096)
		if err != nil || len(got) != mappedFiles {
			t.Fatalf("Cache().Children(%q) = %d entries, %v; want %d, nil", dir, len(got), err, mappedFiles)
		}
	}
	wantFewMapped(t, db, all, fmt.Sprintf("the stat cache read %d directories' records", mappedDirs))
}

// TestIterLetsGoOfMappedPages checks that a whole read of a baseline, as
// a check's verified stream does, leaves few of the database's pages
// mapped.
func TestIterLetsGoOfMappedPages(t *testing.T) {
	db, cur, entries := mappedBaseline(t)
	all := mapEveryRecord(t, db, cur)
	it := cur.Iter()
	n := 0
	for {
		node, err := it.Next()
		if err != nil {
			t.Fatalf("Iter().Next after %d nodes: %v", n, err)
		}
		if node.Entry == nil {
			break
		}
		n++
	}
	if n != len(entries) {
		t.Fatalf("Iter() read %d nodes, want %d", n, len(entries))
	}
	wantFewMapped(t, db, all, fmt.Sprintf("a whole Iter of %d records", n))
}

// wantFewMapped checks that, after what was done, at most a quarter of
// the all KiB of db that reading every record mapped are still mapped.
func wantFewMapped(t *testing.T, db *DB, all int, after string) {
	t.Helper()
	left := mappedKiB(t, db.path)
	t.Logf("mapped: %d KiB after reading every record, %d KiB after %s", all, left, after)
	if left*4 > all {
		t.Errorf("after %s, %d KiB of the database are mapped; want at most a quarter of the %d KiB that reading them all maps", after, left, all)
	}
}

// TestDropReadLetsGoOfRecordWindows checks [DB.dropRead] alone, without a
// drop of the whole map: after every record was read, letting go of the
// windows the records lie in unmaps most of the database.
func TestDropReadLetsGoOfRecordWindows(t *testing.T) {
	db, cur, _ := mappedBaseline(t)
	var all, left int
	err := cur.view(func(rb *bolt.Bucket) error {
		var kvs [][2][]byte
		if err := rb.ForEach(func(k, v []byte) error {
			kvs = append(kvs, [2][]byte{k, v})
			return nil
		}); err != nil {
			return err
		}
		all = mappedKiB(t, db.path)
		db.dropMu.Lock()
		db.dropReads = 0 // this read is not one that drops the whole map
		db.dropMu.Unlock()
		db.dropRead(rb.Tx(), kvs)
		left = mappedKiB(t, db.path)
		return nil
	})
	if err != nil {
		t.Fatalf("reading every record: %v", err)
	}
	t.Logf("mapped: %d KiB after reading every record, %d KiB after dropRead of them", all, left)
	if left*4 > all {
		t.Errorf("dropRead of every record left %d KiB of the database mapped; want at most a quarter of the %d KiB that reading them mapped", left, all)
	}
}

// mappedDirs directories of mappedFiles files each make the baseline of
// the tests of mapped pages: a database of some megabytes.
const mappedDirs, mappedFiles = 1000, 40

// mappedBaseline returns a database holding a baseline of mappedDirs
// directories of mappedFiles files, its current baseline and its entries.
func mappedBaseline(t *testing.T) (*DB, *Baseline, []*merkle.Entry) {
	t.Helper()
	db := newDB(t)
	entries := []*merkle.Entry{dirEntry("/")}
	for d := range mappedDirs {
		dir := fmt.Sprintf("/d%04d", d)
		entries = append(entries, dirEntry(dir))
		for f := range mappedFiles {
			entries = append(entries, fileEntry(fmt.Sprintf("%s/f%02d", dir, f), d*mappedFiles+f))
		}
	}
	writeBaseline(t, db, entries, 3)
	cur, err := db.Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return db, cur, entries
}

// mapEveryRecord reads every record of cur, returns how much of the
// database that left mapped (KiB), and then lets go of the whole map.
func mapEveryRecord(t *testing.T, db *DB, cur *Baseline) int {
	t.Helper()
	err := cur.view(func(rb *bolt.Bucket) error {
		sum := 0
		return rb.ForEach(func(k, v []byte) error {
			sum += len(k) + len(v) // touch every record
			return nil
		})
	})
	if err != nil {
		t.Fatalf("reading every record: %v", err)
	}
	all := mappedKiB(t, db.path)
	if err := db.view(func(tx *bolt.Tx) error { db.dropMapped(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	return all
}

// mappedKiB returns how much of the file at path is resident in this
// process's memory maps.
func mappedKiB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kib, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":"):
			in = len(fs) >= 6 && fs[5] == path
		case in && len(fs) >= 2 && fs[0] == "Rss:":
			n, err := strconv.Atoi(fs[1])
			if err != nil {
				t.Fatalf("smaps: %q: %v", sc.Text(), err)
			}
			kib += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kib
}
