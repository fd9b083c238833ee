//go:build unix

package nix

import (
	"crypto/sha256"
	"encoding/binary"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// statPath walks the tree at path without following symlinks or opening
// anything but directories, and returns a digest of every entry's name,
// type and mode, inode, size, mtime and ctime (two equal digests: nothing
// in the tree was written through the filesystem since, as the scanner's
// stat cache decides for one file), and the entries (relative to path)
// that are not in the state Nix leaves a store path in: modification time
// 1 (the epoch's first second) and no write permission.
func statPath(path string) (digest [32]byte, odd []string, err error) {
	h := sha256.New()
	var buf [8 * 8]byte
	var walk func(dirfd int, name, rel string) error
	walk = func(dirfd int, name, rel string) error {
		var st unix.Stat_t
		full := filepath.Join(path, rel)
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "lstat", Path: full, Err: err}
		}
		h.Write([]byte(rel))
		h.Write([]byte{0})
		for i, v := range []uint64{uint64(st.Mode), st.Ino, uint64(st.Size), uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec),
			uint64(st.Ctim.Sec), uint64(st.Ctim.Nsec), uint64(st.Nlink)} {
			binary.LittleEndian.PutUint64(buf[i*8:], v)
		}
		h.Write(buf[:])
		isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
		if st.Mtim.Sec != 1 || (!isLink && st.Mode&0o222 != 0) {
			if rel == "" {
				rel = "."
			}
			odd = append(odd, rel)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		fd, _, err := openat(dirfd, name, full, unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		names, err := readNames(fd, full)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := walk(fd, n, filepath.Join(rel, n)); err != nil {
				return err
			}
		}
		return nil
	}
	err = walk(unix.AT_FDCWD, path, "")
	copy(digest[:], h.Sum(nil))
	return digest, odd, err
}
