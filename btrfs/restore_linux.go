//go:build linux

package btrfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
)

// tree is an open top directory: every path below it is resolved beneath
// it with no symlink anywhere.
type tree struct {
	top string
	fd  int
	fs  fsys.FS // makes the calls below it
}

// openTop opens the top directory at top, an absolute path, refusing a
// symlink in any of its components.
func openTop(top string, fs fsys.FS) (tree, error) {
	if !path.IsAbs(top) {
		return tree{}, &os.PathError{Op: "open", Path: top, Err: errors.New("not an absolute path")}
	}
	fd, err := fs.Openat2(top, unix.AT_FDCWD, path.Clean(top), unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		return tree{}, &os.PathError{Op: "open", Path: top, Err: err}
	}
	return tree{top: top, fd: fd, fs: fs}, nil
}

func (t tree) close()                 { unix.Close(t.fd) }
func (t tree) path(rel string) string { return path.Join(t.top, rel) }

// open opens rel beneath t: never above t, never through a symlink or a
// magic link.
func (t tree) open(rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	fd, err := t.fs.Openat2(rel, t.fd, rel, flags, unix.RESOLVE_BENEATH)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: t.path(rel), Err: err}
	}
	return fd, nil
}

// split returns rel's parent (relative, "." for the top) and last element.
func split(rel string) (dir, name string, err error) {
	rel = path.Clean(strings.TrimPrefix(rel, "/"))
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", "", fmt.Errorf("%q: not a path below the top", rel)
	}
	dir, name = path.Split(rel)
	if dir == "" {
		dir = "."
	}
	return dir, name, nil
}

// source is the snapshot's inode to restore from.
type source struct {
	dirfd  int    // its parent directory
	name   string // its name there
	fd     int    // the open file (regular files and directories), else -1
	st     unix.Stat_t
	target string // a symlink's target
	xattrs []xattr
	flags  uint32
	hasFl  bool
}

type xattr struct {
	name  string
	value []byte
}

func (s *source) close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
	}
	unix.Close(s.dirfd)
}

// openSource opens rel in the snapshot: regular files O_RDONLY|O_NOATIME|
// O_NOFOLLOW, directories O_DIRECTORY, anything else by name in its open
// parent; never through a symlink.
func openSource(snap tree, rel string) (*source, error) {
	dir, name, err := split(rel)
	if err != nil {
		return nil, err
	}
	dfd, err := snap.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	s := &source{dirfd: dfd, name: name, fd: -1}
	fail := func(op string, err error) (*source, error) {
		s.close()
		return nil, &os.PathError{Op: op, Path: snap.path(rel), Err: err}
	}
	if err := unix.Fstatat(dfd, name, &s.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail("lstat", err)
	}
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		s.fd, err = snap.fs.Openat2(rel, dfd, name, unix.O_RDONLY|unix.O_NOATIME|unix.O_NONBLOCK, unix.RESOLVE_BENEATH)
	case unix.S_IFDIR:
		s.fd, err = snap.fs.Openat2(rel, dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME, unix.RESOLVE_BENEATH)
	case unix.S_IFLNK:
		s.target, err = fsys.Readlinkat(dfd, name)
	case unix.S_IFSOCK:
		err = ErrSocket
	}
	if err != nil {
		return fail("open", err)
	}
	var st unix.Stat_t
	if s.fd >= 0 {
		if err := unix.Fstat(s.fd, &st); err != nil || st.Ino != s.st.Ino || st.Dev != s.st.Dev {
			return fail("open", errors.Join(err, errors.New("replaced while opened")))
		}
		f, err := snap.fs.GetFlags(rel, s.fd)
		if err == nil {
			s.flags, s.hasFl = f, true
		}
	}
	if s.xattrs, err = listXattrs(s.fd, procPath(dfd, name)); err != nil {
		return fail("listxattr", err)
	}
	return s, nil
}

// procPath names the inode called name in the open directory dirfd, for
// the l*xattr calls, which take no descriptor: the magic link of the
// directory is resolved by the kernel, name is not followed.
func procPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

// listXattrs reads every extended attribute of fd (or, with fd < 0, of
// the inode at p, not followed).
func listXattrs(fd int, p string) ([]xattr, error) {
	list := func(b []byte) (int, error) {
		if fd >= 0 {
			return unix.Flistxattr(fd, b)
		}
		return unix.Llistxattr(p, b)
	}
	get := func(name string, b []byte) (int, error) {
		if fd >= 0 {
			return unix.Fgetxattr(fd, name, b)
		}
		return unix.Lgetxattr(p, name, b)
	}
	names, err := readAll(list)
	if err != nil {
		return nil, err
	}
	var out []xattr
	for _, n := range strings.Split(string(names), "\x00") {
		if n == "" {
			continue
		}
		v, err := readAll(func(b []byte) (int, error) { return get(n, b) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, xattr{n, v})
	}
	return out, nil
}

// readAll calls fn with a buffer large enough for what it returns.
func readAll(fn func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := fn(nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		m, err := fn(buf)
		if err == unix.ERANGE {
			continue // grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		return buf[:m], nil
	}
}

// Restore puts the inode at rel below the snapshot top snap back at rel
// below the live top live (both absolute paths of subvolume top
// directories, or of directories the caller trusts), in the order that
// leaves no moment in which the path holds anything but the old inode or
// the restored one:
//
//   - the source is opened with O_RDONLY|O_NOATIME|O_NOFOLLOW and the live
//     parent with openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from live: a
//     symlink anywhere in the path fails the restore (ELOOP);
//   - a temporary inode O_CREAT|O_EXCL|O_NOFOLLOW 0600 beside the target
//     receives the content (FICLONE, or copy_file_range where the clone is
//     refused), then fchown, fchmod (chown clears setuid and
//     capabilities), the extended attributes (security.capability too),
//     the inode flags but immutable and append-only, atime and mtime, and
//     an fsync;
//   - +i and +a are cleared on the target, RENAME_EXCHANGE swaps the two
//     (RENAME_NOREPLACE when the target is gone), the directory is
//     fsynced, and +i/+a are set last;
//   - the tampered inode, now at the temporary name, is neutralized at once
//     (no +i/+a, no security.capability, mode 000, which drops setuid and
//     setgid for every hard link it has) and moved to the quarantine
//     directory, named after the time and the path (see [QuarantineName]),
//     even when a step after the swap failed; where it could not be moved,
//     [Restored.Quarantined] says where it is.
//
// Symbolic links are recreated (symlinkat, never followed), as are FIFOs
// and device nodes (mknodat). An existing directory is repaired in place:
// owner, mode, xattrs and flags but +i/+a, which [FinishDir] sets with its
// times once its entries are restored; a directory that is missing or was
// replaced by something else is created empty, so that its entries can be
// restored into it. Sockets are refused ([ErrSocket]). Hard links of the
// source are restored as separate inodes.
func Restore(snap, live, rel string, o RestoreOptions) (Restored, error) {
	st, lt, err := openTops(snap, live, o.FS)
	if err != nil {
		return Restored{}, err
	}
	defer st.close()
	defer lt.close()
	src, err := openSource(st, rel)
	if err != nil {
		return Restored{}, err
	}
	defer src.close()
	dir, name, _ := split(rel)
	dfd, err := lt.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return Restored{}, err
	}
	defer unix.Close(dfd)
	r := &restore{o: o, live: lt, rel: path.Clean(strings.TrimPrefix(rel, "/")), dirfd: dfd, name: name, src: src}
	return r.run()
}

func openTops(snap, live string, fs fsys.FS) (tree, tree, error) {
	st, err := openTop(snap, fs)
	if err != nil {
		return tree{}, tree{}, err
	}
	lt, err := openTop(live, fs)
	if err != nil {
		st.close()
		return tree{}, tree{}, err
	}
	return st, lt, nil
}

// restore is one [Restore] under way.
type restore struct {
	o     RestoreOptions
	live  tree
	rel   string
	dirfd int    // the live parent
	name  string // the target's name in it
	src   *source
	tmp   string // the temporary name
	tmpfd int    // the temporary inode, if it is a file or directory
}

func (r *restore) fail(op string, err error) (Restored, error) {
	if r.tmp != "" {
		// Nothing was exchanged yet: the temporary inode is ours.
		if r.src.st.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Unlinkat(r.dirfd, r.tmp, unix.AT_REMOVEDIR)
		} else {
			unix.Unlinkat(r.dirfd, r.tmp, 0)
		}
	}
	return Restored{}, &os.PathError{Op: op, Path: r.live.path(r.rel), Err: err}
}

func (r *restore) run() (Restored, error) {
	defer func() {
		if r.tmpfd >= 0 {
			unix.Close(r.tmpfd)
		}
	}()
	r.tmpfd = -1
	out := Restored{Rel: r.rel, Type: typeName(r.src.st.Mode)}
	var cur unix.Stat_t
	err := unix.Fstatat(r.dirfd, r.name, &cur, unix.AT_SYMLINK_NOFOLLOW)
	exists := err == nil
	if err != nil && err != unix.ENOENT {
		return r.fail("lstat", err)
	}
	isDir := r.src.st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && exists && cur.Mode&unix.S_IFMT == unix.S_IFDIR {
		out.InPlace = true
		return out, r.repairDir()
	}
	if err := r.create(&out); err != nil {
		return r.fail("restore", err)
	}
	if err := r.meta(r.dirfd, r.tmp, r.tmpfd, !isDir); err != nil {
		return r.fail("restore", err)
	}
	if exists {
		if err := unlock(r.fs(), r.dirfd, r.name, r.rel); err != nil {
			return r.fail("chattr", err)
		}
		if err := r.fs().Renameat2(r.rel, r.dirfd, r.tmp, r.dirfd, r.name, unix.RENAME_EXCHANGE); err != nil {
			return r.fail("rename", err)
		}
	} else if err := r.fs().Renameat2(r.rel, r.dirfd, r.tmp, r.dirfd, r.name, unix.RENAME_NOREPLACE); err != nil {
		return r.fail("rename", err)
	}
	old := r.tmp
	r.tmp = "" // ours no more: the path holds the restored inode
	// Whatever fails from here, the tampered inode, now at the temporary
	// name, still goes to the quarantine: it is never left beside the
	// target as it was (setuid, capabilities and all).
	var errs []error
	if err := r.fs().Fsync(path.Dir(r.rel), r.dirfd); err != nil {
		errs = append(errs, r.pathErr("fsync", err))
	}
	if r.tmpfd >= 0 && !isDir && r.src.hasFl && r.src.flags&lockFlags != 0 {
		if err := r.fs().SetFlags(r.rel, r.tmpfd, r.src.flags); err != nil {
			errs = append(errs, r.pathErr("chattr", err))
		}
	}
	if exists {
		q, err := r.quarantine(old)
		out.Quarantined = q
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// fs makes the restore's calls.
func (r *restore) fs() fsys.FS { return r.live.fs }

// at names the entry called name in the live parent, relative to the live
// top: what the fsys.Injector is told.
func (r *restore) at(name string) string { return path.Join(path.Dir(r.rel), name) }

func (r *restore) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: r.live.path(r.rel), Err: err}
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "char_device"
	case unix.S_IFBLK:
		return "block_device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "unknown"
}

// tempName returns a fresh name beside name.
func tempName(name string) string {
	var b [8]byte
	rand.Read(b[:])
	if len(name) > 200 {
		name = name[:200]
	}
	return ".vigil-restore." + name + "." + hex.EncodeToString(b[:])
}

// create makes the temporary inode: the source's content for a file, an
// empty directory, the link, the node.
func (r *restore) create(out *Restored) error {
	s := r.src
	r.tmp = tempName(r.name)
	var err error
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		r.tmpfd, err = r.fs().Openat(r.at(r.tmp), r.dirfd, r.tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			r.tmp = ""
			return err
		}
		if s.hasFl && s.flags&^lockFlags != 0 {
			// Before the content: NOCOW, for one, takes only on an empty file.
			if err := r.fs().SetFlags(r.at(r.tmp), r.tmpfd, s.flags&^lockFlags); err != nil {
				return fmt.Errorf("chattr: %w", err)
			}
		}
		out.Cloned, err = clone(r.fs(), r.at(r.tmp), r.tmpfd, s.fd, s.st.Size)
		return err
	case unix.S_IFDIR:
		if err := r.fs().Mkdirat(r.at(r.tmp), r.dirfd, r.tmp, 0o700); err != nil {
			r.tmp = ""
			return err
		}
		r.tmpfd, err = r.fs().Openat2(r.at(r.tmp), r.dirfd, r.tmp, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
		return err
	case unix.S_IFLNK:
		if err := r.fs().Symlinkat(r.at(r.tmp), s.target, r.dirfd, r.tmp); err != nil {
			r.tmp = ""
			return err
		}
		return nil
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if err := r.fs().Mknodat(r.at(r.tmp), r.dirfd, r.tmp, s.st.Mode&unix.S_IFMT|0o600, int(s.st.Rdev)); err != nil {
			r.tmp = ""
			return err
		}
		return nil
	}
	r.tmp = ""
	return fmt.Errorf("file type %o: %w", s.st.Mode&unix.S_IFMT, ErrSocket)
}

// clone fills dst with src's content: FICLONE, or a copy where the clone
// is refused (another filesystem, differing NOCOW/checksum settings).
func clone(fs fsys.FS, p string, dst, src int, size int64) (bool, error) {
	err := fs.Clone(p, dst, src)
	if err == nil {
		return true, nil
	}
	if err != unix.EXDEV && err != unix.EOPNOTSUPP && err != unix.EINVAL && err != unix.ENOTTY {
		return false, fmt.Errorf("FICLONE: %w", err)
	}
	var off int64
	for off < size {
		n, err := fs.CopyFileRange(p, src, &off, dst, int(min(size-off, 1<<30)))
		if err == unix.EINTR {
			continue
		}
		if err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP {
			return false, copyRead(fs, p, dst, src, off)
		}
		if err != nil {
			return false, fmt.Errorf("copy_file_range: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return false, nil
}

// copyRead copies src to dst from off with pread and pwrite.
func copyRead(fs fsys.FS, p string, dst, src int, off int64) error {
	buf := make([]byte, 1<<20)
	for {
		n, err := fs.Pread(p, src, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			return nil
		}
		for w := 0; w < n; {
			m, err := fs.Pwrite(p, dst, buf[w:n], off+int64(w))
			if err != nil && err != unix.EINTR {
				return fmt.Errorf("write: %w", err)
			}
			w += max(m, 0)
		}
		off += int64(n)
	}
}

// meta gives the inode name in dirfd (open as fd, or -1) the source's
// owner, mode, extended attributes and times, then fsyncs it: fchown
// first, since it clears setuid, setgid and security.capability. sync says
// whether to fsync (files; a directory is fsynced by [FinishDir]).
func (r *restore) meta(dirfd int, name string, fd int, sync bool) error {
	s := &r.src.st
	fs, p := r.fs(), r.at(name)
	link := s.Mode&unix.S_IFMT == unix.S_IFLNK
	var err error
	if fd >= 0 {
		err = fs.Fchown(p, fd, int(s.Uid), int(s.Gid))
	} else {
		err = fs.Fchownat(p, dirfd, name, int(s.Uid), int(s.Gid), unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if !link {
		if fd >= 0 {
			err = fs.Fchmod(p, fd, s.Mode&0o7777)
		} else {
			err = fs.Fchmodat(p, dirfd, name, s.Mode&0o7777, 0) // a node we made: not a link
		}
		if err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(fs, p, fd, procPath(dirfd, name), r.src.xattrs); err != nil {
		return err
	}
	if s.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := setTimes(fs, p, dirfd, name, s); err != nil {
			return err
		}
	}
	if sync && fd >= 0 {
		if err := fs.Fsync(p, fd); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
	}
	return nil
}

func setTimes(fs fsys.FS, p string, dirfd int, name string, s *unix.Stat_t) error {
	ts := []unix.Timespec{s.Atim, s.Mtim}
	if err := fs.UtimesNanoAt(p, dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat: %w", err)
	}
	return nil
}

// setXattrs makes the extended attributes of fd (or of the inode at p,
// not followed) exactly want: it sets each and removes the others (a new
// inode inherits default ACLs and may get a security label).
func setXattrs(fs fsys.FS, label string, fd int, p string, want []xattr) error {
	have, err := listXattrs(fd, p)
	if err != nil {
		return fmt.Errorf("listxattr: %w", err)
	}
	keep := map[string]bool{}
	for _, x := range want {
		keep[x.name] = true
		if fd >= 0 {
			err = fs.Fsetxattr(label, fd, x.name, x.value)
		} else {
			err = fs.Lsetxattr(label, p, x.name, x.value)
		}
		if err != nil {
			return fmt.Errorf("setxattr %s: %w", x.name, err)
		}
	}
	for _, x := range have {
		if keep[x.name] {
			continue
		}
		if fd >= 0 {
			err = fs.Fremovexattr(label, fd, x.name)
		} else {
			err = fs.Lremovexattr(label, p, x.name)
		}
		if err != nil && err != unix.ENODATA {
			return fmt.Errorf("removexattr %s: %w", x.name, err)
		}
	}
	return nil
}

// unlock clears +i and +a on the inode called name in dirfd, if it is a
// file or directory that has them (nothing else has flags: a device node
// is never opened).
// p names it for fs.
func unlock(fs fsys.FS, dirfd int, name, p string) error {
	fd, err := openInode(fs, dirfd, name, p)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	f, err := fs.GetFlags(p, fd)
	if err != nil || f&lockFlags == 0 {
		return nil // no flags here, or none to clear
	}
	return fs.SetFlags(p, fd, f&^lockFlags)
}

// openInode opens name in dirfd if it is a regular file or a directory
// (-1 otherwise), never following it; p names it for fs.
func openInode(fs fsys.FS, dirfd int, name, p string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		return -1, nil
	}
	fd, err := fs.Openat2(p, dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, unix.RESOLVE_BENEATH)
	if err != nil {
		return -1, err
	}
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil || got.Ino != st.Ino || got.Dev != st.Dev {
		unix.Close(fd)
		return -1, errors.Join(err, errors.New("replaced while opened"))
	}
	return fd, nil
}

// repairDir gives an existing live directory the source's owner, mode,
// xattrs and flags but +i/+a, in place.
func (r *restore) repairDir() error {
	fs := r.fs()
	fd, err := fs.Openat2(r.rel, r.dirfd, r.name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return r.pathErr("open", err)
	}
	defer unix.Close(fd)
	if f, err := fs.GetFlags(r.rel, fd); err == nil && f&lockFlags != 0 {
		if err := fs.SetFlags(r.rel, fd, f&^lockFlags); err != nil {
			return r.pathErr("chattr", err)
		}
	}
	if err := r.meta(r.dirfd, r.name, fd, false); err != nil {
		return r.pathErr("restore", err)
	}
	if r.src.hasFl {
		if err := fs.SetFlags(r.rel, fd, r.src.flags&^lockFlags); err != nil {
			return r.pathErr("chattr", err)
		}
	}
	return nil
}

// FinishDir gives the live directory at rel the times and the inode flags
// (+i and +a too) of the snapshot's, and fsyncs it: after its entries were
// restored, which move its mtime and which +i would forbid.
func FinishDir(snap, live, rel string) error {
	st, lt, err := openTops(snap, live, fsys.FS{})
	if err != nil {
		return err
	}
	defer st.close()
	defer lt.close()
	src, err := openSource(st, rel)
	if err != nil {
		return err
	}
	defer src.close()
	if src.st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &os.PathError{Op: "finish", Path: st.path(rel), Err: unix.ENOTDIR}
	}
	dir, name, _ := split(rel)
	dfd, err := lt.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	fs := lt.fs
	fd, err := fs.Openat2(rel, dfd, name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return &os.PathError{Op: "open", Path: lt.path(rel), Err: err}
	}
	defer unix.Close(fd)
	if err := setTimes(fs, rel, dfd, name, &src.st); err != nil {
		return &os.PathError{Op: "finish", Path: lt.path(rel), Err: err}
	}
	if src.hasFl {
		if err := fs.SetFlags(rel, fd, src.flags); err != nil {
			return &os.PathError{Op: "chattr", Path: lt.path(rel), Err: err}
		}
	}
	return fs.Fsync(rel, fd)
}

// quarantine neutralizes the inode at tmp in the live parent and moves it
// to the quarantine directory; it returns where it went, relative to the
// live top.
func (r *restore) quarantine(tmp string) (string, error) {
	// Not neutralized, it still goes to the root-only quarantine, out of
	// every other user's reach; where it could not go, where it is is said.
	var nerr error
	if err := neutralize(r.fs(), r.dirfd, tmp, r.at(tmp)); err != nil {
		nerr = r.pathErr("neutralize", err)
	}
	qrel, qfd, err := openQuarantine(r.live, r.o.Quarantine)
	if err != nil {
		return r.at(tmp), errors.Join(nerr, err)
	}
	defer unix.Close(qfd)
	now := time.Now
	if r.o.Now != nil {
		now = r.o.Now
	}
	name := QuarantineName(now(), r.rel)
	if err := r.fs().Renameat2(r.at(tmp), r.dirfd, tmp, qfd, name, unix.RENAME_NOREPLACE); err != nil {
		return r.at(tmp), errors.Join(nerr, r.pathErr("quarantine", err))
	}
	if err := r.fs().Fsync(path.Dir(r.rel), r.dirfd); err != nil {
		return path.Join(qrel, name), errors.Join(nerr, r.pathErr("fsync", err))
	}
	if err := r.fs().Fsync(qrel, qfd); err != nil {
		return path.Join(qrel, name), errors.Join(nerr, &os.PathError{Op: "fsync", Path: r.live.path(qrel), Err: err})
	}
	return path.Join(qrel, name), nerr
}

// neutralize makes the inode called name in dirfd harmless where it lies:
// no +i/+a, no file capability, mode 000 (no setuid, setgid, execute),
// for every name it has. A symlink or a device node has no mode that
// matters and is left as it is.
func neutralize(fs fsys.FS, dirfd int, name, p string) error {
	fd, err := openInode(fs, dirfd, name, p)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	if f, err := fs.GetFlags(p, fd); err == nil && f&lockFlags != 0 {
		if err := fs.SetFlags(p, fd, f&^lockFlags); err != nil {
			return fmt.Errorf("chattr: %w", err)
		}
	}
	if err := fs.Fremovexattr(p, fd, "security.capability"); err != nil && err != unix.ENODATA {
		return fmt.Errorf("removexattr security.capability: %w", err)
	}
	if err := fs.Fchmod(p, fd, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return fs.Fsync(p, fd)
}

// Quarantine neutralizes the inode at rel below live (see [Restore]) and
// moves it to the quarantine directory: for an entry that a restored tree
// does not have. It returns where it went, relative to live.
func Quarantine(live, rel string, o RestoreOptions) (string, error) {
	lt, err := openTop(live, o.FS)
	if err != nil {
		return "", err
	}
	defer lt.close()
	dir, name, err := split(rel)
	if err != nil {
		return "", err
	}
	dfd, err := lt.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return "", err
	}
	defer unix.Close(dfd)
	if err := unlock(lt.fs, dfd, name, rel); err != nil {
		return "", &os.PathError{Op: "chattr", Path: lt.path(rel), Err: err}
	}
	r := &restore{o: o, live: lt, rel: path.Clean(strings.TrimPrefix(rel, "/")), dirfd: dfd, name: name}
	return r.quarantine(name)
}

// openQuarantine opens (making it if need be) the quarantine directory
// beneath live: a directory owned by root (the caller), mode 0700.
func openQuarantine(live tree, q string) (string, int, error) {
	if q == "" {
		q = DefaultQuarantine
	}
	q = path.Clean(strings.TrimPrefix(q, "/"))
	if q == "." || strings.HasPrefix(q, "..") {
		return "", -1, fmt.Errorf("quarantine %q: not a directory below %s", q, live.top)
	}
	dir, name, _ := split(q)
	dfd, err := live.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return "", -1, err
	}
	defer unix.Close(dfd)
	if err := live.fs.Mkdirat(q, dfd, name, 0o700); err != nil && err != unix.EEXIST {
		return "", -1, &os.PathError{Op: "mkdir", Path: live.path(q), Err: err}
	}
	fd, err := live.fs.Openat2(q, dfd, name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return "", -1, &os.PathError{Op: "open", Path: live.path(q), Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil && int(st.Uid) != unix.Geteuid() {
		err = fmt.Errorf("owned by uid %d: not a quarantine", st.Uid)
	}
	if err == nil && st.Mode&0o7777 != 0o700 {
		err = live.fs.Fchmod(q, fd, 0o700)
	}
	if err != nil {
		unix.Close(fd)
		return "", -1, &os.PathError{Op: "quarantine", Path: live.path(q), Err: err}
	}
	return q, fd, nil
}

// ReadDirNames lists the names in the live directory at rel below live,
// never through a symlink.
func ReadDirNames(live, rel string) ([]string, error) {
	lt, err := openTop(live, fsys.FS{})
	if err != nil {
		return nil, err
	}
	defer lt.close()
	fd, err := lt.open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), lt.path(rel))
	defer f.Close()
	return f.Readdirnames(-1)
}
