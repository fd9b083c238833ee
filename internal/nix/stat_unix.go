//go:build unix

package nix

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// statHasher digests every entry's name (relative to the top), type and
// mode, inode, size, mtime, ctime and link count: two equal digests mean
// nothing in the tree was written through the filesystem since, as the
// scanner's stat cache decides for one file. It also collects the entries
// not in the state Nix leaves a store path in: modification time 1 (the
// epoch's first second) and no write permission.
type statHasher struct {
	h   hash.Hash
	top string
	buf [8 * 8]byte
	odd []string
}

func newStatHasher(top string) *statHasher {
	return &statHasher{h: sha256.New(), top: filepath.Clean(top)}
}

// record adds the entry at path (top or below it) whose lstat is st.
func (s *statHasher) record(path string, st *unix.Stat_t) {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, s.top), "/")
	s.h.Write([]byte(rel))
	s.h.Write([]byte{0})
	for i, v := range []uint64{uint64(st.Mode), st.Ino, uint64(st.Size), uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec),
		uint64(st.Ctim.Sec), uint64(st.Ctim.Nsec), uint64(st.Nlink)} {
		binary.LittleEndian.PutUint64(s.buf[i*8:], v)
	}
	s.h.Write(s.buf[:])
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if st.Mtim.Sec != 1 || (!isLink && st.Mode&0o222 != 0) {
		if rel == "" {
			rel = "."
		}
		s.odd = append(s.odd, rel)
	}
}

func (s *statHasher) sum() (digest [32]byte) {
	copy(digest[:], s.h.Sum(nil))
	return digest
}

// statPath walks the tree at path without following symlinks or opening
// anything but directories, and returns its stat digest and the entries
// not in Nix's canonical state (see statHasher): what the stat cache
// compares, at the cost of a find.
func statPath(path string) (digest [32]byte, odd []string, err error) {
	s := newStatHasher(path)
	var walk func(dirfd int, name, full string) error
	walk = func(dirfd int, name, full string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "lstat", Path: full, Err: err}
		}
		s.record(full, &st)
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
			if err := walk(fd, n, childPath(full, n)); err != nil {
				return err
			}
		}
		return nil
	}
	err = walk(unix.AT_FDCWD, s.top, s.top)
	return s.sum(), s.odd, err
}

// hashStatPath is [HashPath] and statPath in one walk.
func hashStatPath(path string) (PathHash, [32]byte, []string, error) {
	h := sha256.New()
	nw := &narWriter{w: h, stat: newStatHasher(path)}
	err := nw.writeNAR(path)
	var out PathHash
	copy(out.SHA256[:], h.Sum(nil))
	out.NARSize = nw.n
	return out, nw.stat.sum(), nw.stat.odd, err
}
