package scanner

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
)

// TestGenAt: the generation the stat cache reads without opening the file
// (from its handle, where the layout is known) is the one FS_IOC_GETVERSION
// gives, on each filesystem at hand; where there is none, both say so.
func TestGenAt(t *testing.T) {
	t.Parallel()
	dirs := map[string]func(t *testing.T) string{
		"tempdir": func(t *testing.T) string { return t.TempDir() },
		"tmpfs": func(t *testing.T) string {
			d, err := os.MkdirTemp("/dev/shm", "vigil-gen")
			if err != nil {
				t.Skipf("no tmpfs at /dev/shm: %v", err)
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		},
		"ext4":  func(t *testing.T) string { return fimtest.LoopFS(t, "ext4", 64<<20, "") },
		"btrfs": func(t *testing.T) string { return fimtest.LoopFS(t, "btrfs", 128<<20, "") },
	}
	for name, mk := range dirs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := mk(t)
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				t.Fatal(err)
			}
			want, wantOK, err := inodeGen(fd)
			if err != nil {
				t.Fatal(err)
			}
			dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(dfd)
			got, ok, err := genAt(dfd, "f", st.Ino)
			if err != nil || got != want || ok != wantOK {
				t.Errorf("genAt(%s) = %d, %v, %v; FS_IOC_GETVERSION says %d, %v", p, got, ok, err, want, wantOK)
			}
			_, decoded := handleGen(dfd, "f", 0, st.Ino)
			t.Logf("%s: generation %d (has one: %v), decoded from the handle: %v", name, want, wantOK, decoded)
		})
	}
}
