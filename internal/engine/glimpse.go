package engine

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/merkle"
)

// Glimpse is a quick look at path, for the watch to take when a hint
// arrives, before the state it hints at may be gone: the lstat of path
// (never following a symlink) and, when hashMax > 0 and want (nil: any)
// says so of the entry, the BLAKE3-256 of a regular file's content if it
// holds at most hashMax bytes (the same hash the scanner records). It returns nil, nil when path does not exist.
// Nothing but a regular file is opened (never a FIFO or a device), and
// only with O_NOFOLLOW|O_NONBLOCK, checked to be the inode lstat saw.
// The entry is not verified against anything: it says what was seen.
func Glimpse(path string, hashMax int64, want func(*merkle.Entry) bool) (*merkle.Entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil, nil
		}
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	e := glimpseEntry(path, &st)
	if hashMax <= 0 || e.Type != merkle.TypeFile || e.Size > hashMax || want != nil && !want(e) {
		return e, nil
	}
	sum, ok, err := glimpseHash(path, &st, hashMax)
	if err != nil {
		return e, err
	}
	if ok {
		e.Hash, e.HashState = sum, merkle.HashOK
	}
	return e, nil
}

// glimpseEntry is the entry of what st says of path.
func glimpseEntry(path string, st *unix.Stat_t) *merkle.Entry {
	mode := uint32(st.Mode)
	return &merkle.Entry{
		Path: path, Type: glimpseType(mode), Perm: mode & 0o7777,
		UID: st.Uid, GID: st.Gid, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Inode: uint64(st.Ino), Nlink: uint64(st.Nlink), Dev: uint64(st.Dev),
	}
}

func glimpseType(mode uint32) merkle.Type {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return merkle.TypeFile
	case unix.S_IFDIR:
		return merkle.TypeDir
	case unix.S_IFLNK:
		return merkle.TypeSymlink
	case unix.S_IFIFO:
		return merkle.TypeFIFO
	case unix.S_IFSOCK:
		return merkle.TypeSocket
	case unix.S_IFCHR:
		return merkle.TypeCharDev
	case unix.S_IFBLK:
		return merkle.TypeBlockDev
	}
	return merkle.TypeUnknown
}

// glimpseHash hashes the regular file at path that lstat described as st;
// ok is false when it is no longer that file, or grew past hashMax.
func glimpseHash(path string, st *unix.Stat_t, hashMax int64) (sum [32]byte, ok bool, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
			return sum, false, nil // gone, or replaced by a symlink
		}
		return sum, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil {
		return sum, false, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if uint32(fst.Mode)&unix.S_IFMT != unix.S_IFREG || fst.Ino != st.Ino || fst.Dev != st.Dev {
		return sum, false, nil // replaced between the lstat and the open
	}
	data, err := io.ReadAll(io.LimitReader(f, hashMax+1))
	if err != nil {
		return sum, false, &fs.PathError{Op: "hash", Path: path, Err: err}
	}
	if int64(len(data)) > hashMax {
		return sum, false, nil
	}
	return blake3.Sum256(data), true, nil
}
