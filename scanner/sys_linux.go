package scanner

import (
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"vigil/merkle"
)

// fillStat copies what lstat/fstat says into e, with the birth time statx
// gave with it (0: none, or not asked).
func fillStat(e *merkle.Entry, st *unix.Stat_t, btime int64) {
	e.Btime = btime
	e.Type = fileType(st.Mode)
	e.Perm = st.Mode & 0o7777
	e.UID, e.GID = st.Uid, st.Gid
	e.Size = st.Size
	e.Mtime = st.Mtim.Nano()
	e.Ctime = st.Ctim.Nano()
	e.Inode = st.Ino
	e.Nlink = uint64(st.Nlink) // uint32 on arm64
	e.Dev = st.Dev
	if e.Type == merkle.TypeCharDev || e.Type == merkle.TypeBlockDev {
		e.Rdev = st.Rdev
	}
}

func fileType(mode uint32) merkle.Type {
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

// typeMode is the S_IFMT bits of type t.
func typeMode(t merkle.Type) uint32 {
	switch t {
	case merkle.TypeFile:
		return unix.S_IFREG
	case merkle.TypeDir:
		return unix.S_IFDIR
	case merkle.TypeSymlink:
		return unix.S_IFLNK
	case merkle.TypeFIFO:
		return unix.S_IFIFO
	case merkle.TypeSocket:
		return unix.S_IFSOCK
	case merkle.TypeCharDev:
		return unix.S_IFCHR
	case merkle.TypeBlockDev:
		return unix.S_IFBLK
	}
	return 0
}

// sameFile reports whether st describes the same unchanged inode as e.
func sameFile(e *merkle.Entry, st *unix.Stat_t) bool {
	return e.Dev == st.Dev && e.Inode == st.Ino && e.Size == st.Size &&
		e.Mtime == st.Mtim.Nano() && e.Ctime == st.Ctim.Nano() && fileType(st.Mode) == e.Type
}

// xattrReader reads extended attributes, reusing its buffers.
type xattrReader struct {
	names []byte
	value []byte
}

// read returns the extended attributes through list/get, sorted by name.
func (x *xattrReader) read(list func([]byte) (int, error), get func(string, []byte) (int, error)) ([]merkle.Xattr, error) {
	if x.names == nil {
		x.names = make([]byte, 4096)
		x.value = make([]byte, 4096)
	}
	n, err := sizedCall(&x.names, list)
	if err != nil || n == 0 {
		return nil, ignoreUnsupported(err)
	}
	var out []merkle.Xattr
	for name := range strings.SplitSeq(string(x.names[:n]), "\x00") {
		if name == "" {
			continue
		}
		m, err := sizedCall(&x.value, func(b []byte) (int, error) { return get(name, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed since listing
		}
		if err != nil {
			return out, err
		}
		out = append(out, merkle.Xattr{Name: name, Value: slices.Clone(x.value[:m])})
	}
	slices.SortFunc(out, func(a, b merkle.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// sizedCall calls f with *buf, growing it while the kernel says ERANGE.
func sizedCall(buf *[]byte, f func([]byte) (int, error)) (int, error) {
	for range 8 {
		n, err := f(*buf)
		if !errors.Is(err, unix.ERANGE) {
			return n, err
		}
		size, err := f(nil)
		if err != nil {
			return 0, err
		}
		*buf = make([]byte, max(size, 2*len(*buf)))
	}
	return 0, unix.ERANGE
}

func ignoreUnsupported(err error) error {
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOTTY) {
		return nil
	}
	return err
}

func (x *xattrReader) fd(fd int) ([]merkle.Xattr, error) {
	return x.read(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(n string, b []byte) (int, error) { return unix.Fgetxattr(fd, n, b) })
}

// at reads the extended attributes of name in the open directory dirfd
// (-1 for none), without following it; path is its full path. A path too
// long for the kernel is reached through the directory's descriptor.
func (x *xattrReader) at(dirfd int, name, path string) ([]merkle.Xattr, error) {
	if dirfd >= 0 && len(path) >= unix.PathMax {
		path = "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
	}
	return x.path(path)
}

func (x *xattrReader) path(p string) ([]merkle.Xattr, error) {
	return x.read(func(b []byte) (int, error) { return unix.Llistxattr(p, b) },
		func(n string, b []byte) (int, error) { return unix.Lgetxattr(p, n, b) })
}

// inodeFlags reads the chattr flags of an open file; ok is false where the
// filesystem has none.
func inodeFlags(fd int) (flags uint32, ok bool, err error) {
	f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	switch {
	case err == nil:
		return f, true, nil
	case errors.Is(err, unix.ENOTTY), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return 0, false, nil
	}
	return 0, false, err
}

// pathErr wraps err with op and path unless it is nil.
func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// gone reports whether err means the path no longer exists (or its parent
// was replaced by something that is not a directory).
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}
