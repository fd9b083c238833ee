package scanner

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// TestHasherBuffers: a file that fits in the small buffer is read with it
// (no bufSize buffer taken), a larger one borrows a big buffer and gives it
// back, and both hash to what BLAKE3 of their content is, in either order.
func TestHasherBuffers(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"small": bytes.Repeat([]byte("s"), smallBufSize),
		"big":   bytes.Repeat([]byte("b"), bufSize+smallBufSize+7),
		"tiny":  []byte("t"),
	}
	h := newHasher(&Options{})
	for _, name := range []string{"small", "big", "tiny", "big"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		n, err := h.read(t.Context(), fd, p, &st)
		unix.Close(fd)
		if err != nil || n != int64(len(files[name])) {
			t.Fatalf("read(%s) = %d, %v; want %d, nil", name, n, err, len(files[name]))
		}
		if got, want := h.h.Sum(nil), blake3.Sum256(files[name]); !bytes.Equal(got, want[:]) {
			t.Errorf("hash of %s = %x, want %x", name, got, want)
		}
		if h.buf != nil && len(h.buf) != smallBufSize {
			t.Errorf("after %s the worker still holds a %d-byte buffer", name, len(h.buf))
		}
		if name != "big" && h.small == nil {
			t.Errorf("%s was not read with the small buffer", name)
		}
	}
}
