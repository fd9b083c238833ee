//go:build linux

package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/store"
)

// fill writes zeros to a new file in dir until the filesystem is full, and
// returns the file, to remove to free the space again.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	for len(buf) > 1 { // the last blocks
		buf = buf[:len(buf)/2]
		f.Write(buf)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil && !errors.Is(err, unix.ENOSPC) {
		t.Fatal(err)
	}
	return p
}

// TestStoreENOSPC runs an update and an init --force with the database on
// a small ext4 that is full: each fails with an error that names the
// database and says the disk is full, the previous baseline stays
// current and whole (the database checks clean), and once space is freed
// the update goes through.
func TestStoreENOSPC(t *testing.T) {
	mnt := fimtest.LoopFS(t, "ext4", 16<<20, "")
	root := t.TempDir()
	fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0::/root:/bin/sh\n")}.Make(t, root)
	fimtest.Age(t, root, fimtest.Past)
	dbPath := filepath.Join(mnt, "vigil.db")
	cfg := parseConfig(t, dbPath, root)
	open := func() *fixture {
		db, err := store.Open(dbPath, store.Options{})
		if err != nil {
			t.Fatalf("store.Open(%s): %v", dbPath, err)
		}
		return &fixture{root: root, cfg: cfg, db: db}
	}
	f := open()
	f.init(t)
	before := current(t, f.db)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}

	// Enough new entries that their records need new pages: some MiB.
	for i := range 3000 {
		p := filepath.Join(root, "usr/lib", fmt.Sprintf("d%02d", i%50), fmt.Sprintf("lib%04d-with-a-long-name-of-the-kind-usr-has.so", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	filler := fill(t, mnt)

	for _, op := range []struct {
		name string
		fn   operation
	}{{"Update", engine.Update}, {"Init --force", engine.Init}} {
		f := open()
		o := f.opts()
		o.Force = true
		_, _, _, err := f.try(t, op.fn, o)
		if cerr := f.db.Close(); cerr != nil {
			t.Errorf("db.Close() = %v", cerr)
		}
		if !errors.Is(err, unix.ENOSPC) || !strings.Contains(err.Error(), dbPath) {
			t.Fatalf("engine.%s on a full disk = %v, want ENOSPC naming %s", op.name, err, dbPath)
		}
		t.Logf("engine.%s on a full disk: %v", op.name, err)
		f = open()
		if err := f.db.Check(); err != nil {
			t.Errorf("after engine.%s on a full disk, db.Check() = %v", op.name, err)
		}
		if got := current(t, f.db); got != before {
			t.Errorf("after engine.%s on a full disk, the current root is %s, want the previous %s", op.name, got, before)
		}
		if err := f.db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	f = open()
	defer f.db.Close()
	_, _, res := f.update(t, f.opts())
	if !res.Written || res.Added < 3000 {
		t.Errorf("engine.Update once space is freed: Written %v, Added %d; want the 3000 files", res.Written, res.Added)
	}
	if err := f.db.Check(); err != nil {
		t.Errorf("after the update, db.Check() = %v", err)
	}
}
