package engine_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/merkle"
)

// TestGlimpse: a quick look hashes a small regular file (the hash the
// scanner records: BLAKE3 of the content), never opens a FIFO (it would
// block), never follows a symlink, leaves a file above the limit or one
// want turns down unhashed, and says nothing of a path that is not there.
func TestGlimpse(t *testing.T) {
	dir := t.TempDir()
	file, big, fifo, link := filepath.Join(dir, "f"), filepath.Join(dir, "big"), filepath.Join(dir, "fifo"), filepath.Join(dir, "link")
	if err := os.WriteFile(file, []byte("abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	// BLAKE3("abc"), from the reference test vectors' b3sum.
	const abc = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
	for _, c := range []struct {
		path   string
		want   func(*merkle.Entry) bool
		typ    merkle.Type
		hashed bool
	}{
		{file, nil, merkle.TypeFile, true},
		{file, func(e *merkle.Entry) bool { return e.Perm&0o111 == 0 }, merkle.TypeFile, false},
		{big, nil, merkle.TypeFile, false},
		{fifo, nil, merkle.TypeFIFO, false},
		{link, nil, merkle.TypeSymlink, false},
	} {
		e, err := engine.Glimpse(c.path, 10, c.want)
		if err != nil || e == nil {
			t.Fatalf("Glimpse(%s) = %v, %v", c.path, e, err)
		}
		if e.Type != c.typ || (e.HashState == merkle.HashOK) != c.hashed {
			t.Errorf("Glimpse(%s): type %v hashed %v, want %v and %v", c.path, e.Type, e.HashState == merkle.HashOK, c.typ, c.hashed)
		}
		if c.hashed && hex.EncodeToString(e.Hash[:]) != abc {
			t.Errorf("Glimpse(%s): hash %x, want %s", c.path, e.Hash, abc)
		}
	}
	if e, err := engine.Glimpse(filepath.Join(dir, "gone"), 10, nil); e != nil || err != nil {
		t.Errorf("Glimpse of a missing path = %v, %v; want nil, nil", e, err)
	}
}
