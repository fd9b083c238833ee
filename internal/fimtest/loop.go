package fimtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// LoopFS makes a filesystem of type fstype ("ext4", "btrfs", "xfs") in a
// sparse image of size bytes, loop-mounts it with the mount options opts
// (comma-separated, may be empty) and returns the mount point. Everything is
// undone when t ends. It needs root and mkfs.fstype: without them it skips t
// with the reason, or fails it where [RequireRootEnv] is set.
func LoopFS(t testing.TB, fstype string, size int64, opts string) string {
	t.Helper()
	NeedRoot(t, "loop-mounts a "+fstype+" image")
	mkfs, err := exec.LookPath("mkfs." + fstype)
	if err != nil {
		if os.Getenv(RequireRootEnv) != "" {
			t.Fatalf("mkfs.%s: %v, and %s is set: install it", fstype, err, RequireRootEnv)
		}
		t.Skipf("mkfs.%s: %v", fstype, err)
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	force := "-F"
	if fstype != "ext4" {
		force = "-f"
	}
	run(t, mkfs, "-q", force, img)
	dev := strings.TrimSpace(run(t, "losetup", "--find", "--show", img))
	t.Cleanup(func() { run(t, "losetup", "-d", dev) })
	args := []string{dev, mnt}
	if opts != "" {
		args = append([]string{"-o", opts}, args...)
	}
	run(t, "mount", args...)
	t.Cleanup(func() { run(t, "umount", mnt) })
	return mnt
}

// LoopDevice returns the loop device backing the filesystem mounted at mnt
// by [LoopFS].
func LoopDevice(t testing.TB, mnt string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "findmnt", "-n", "-o", "SOURCE", mnt))
}

// Command runs a program and returns its standard output; it fails t,
// with the program's error output, if it fails.
func Command(t testing.TB, name string, args ...string) string {
	t.Helper()
	return run(t, name, args...)
}

// run runs a command and returns its standard output; it fails t, with the
// command's output, if the command fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// FindBlock returns the offset in the image of the 4 KiB block b,
// skipping the image's holes.
func FindBlock(t testing.TB, img string, b []byte) int64 {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < fi.Size(); {
		d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			break
		}
		d &^= 4095
		n, _ := f.ReadAt(buf, d)
		for i := 0; i+4096 <= n; i += 4096 {
			if bytes.Equal(buf[i:i+4096], b) {
				return d + int64(i)
			}
		}
		off = d + int64(max(n, 4096))
	}
	t.Fatalf("the file's block is not in %s", img)
	return 0
}
