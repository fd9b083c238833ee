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
)

// tree is an open top directory: every path below it is resolved beneath
// it with no symlink anywhere.
type tree struct {
	top string
	fd  int
}

// openTop opens the top directory at top, an absolute path, refusing a
// symlink in any of its components.
func openTop(top string) (tree, error) {
	if !path.IsAbs(top) {
		return tree{}, &os.PathError{Op: "open", Path: top, Err: errors.New("not an absolute path")}
	}
	fd, err := openat2(unix.AT_FDCWD, path.Clean(top), unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		return tree{}, &os.PathError{Op: "open", Path: top, Err: err}
	}
	return tree{top: top, fd: fd}, nil
}

func (t tree) close()                 { unix.Close(t.fd) }
func (t tree) path(rel string) string { return path.Join(t.top, rel) }

// open opens rel beneath t: never above t, never through a symlink or a
// magic link.
func (t tree) open(rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	fd, err := openat2(t.fd, rel, flags, unix.RESOLVE_BENEATH)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: t.path(rel), Err: err}
	}
	return fd, nil
}

func openat2(dirfd int, p string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Mode:    0,
		Resolve: resolve | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, p, &how)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
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
		s.fd, err = openat2(dfd, name, unix.O_RDONLY|unix.O_NOATIME|unix.O_NONBLOCK, unix.RESOLVE_BENEATH)
	case unix.S_IFDIR:
		s.fd, err = openat2(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME, unix.RESOLVE_BENEATH)
	case unix.S_IFLNK:
		s.target, err = readlinkat(dfd, name)
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
		f, err := unix.IoctlGetUint32(s.fd, unix.FS_IOC_GETFLAGS)
		if err == nil {
			s.flags, s.hasFl = f, true
		}
	}
	if s.xattrs, err = listXattrs(s.fd, procPath(dfd, name)); err != nil {
		return fail("listxattr", err)
	}
	return s, nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
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
//     directory, named after the time and the path (see [QuarantineName]).
//
// Symbolic links are recreated (symlinkat, never followed), as are FIFOs
// and device nodes (mknodat). An existing directory is repaired in place:
// owner, mode, xattrs and flags but +i/+a, which [FinishDir] sets with its
// times once its entries are restored; a directory that is missing or was
// replaced by something else is created empty, so that its entries can be
// restored into it. Sockets are refused ([ErrSocket]). Hard links of the
// source are restored as separate inodes.
func Restore(snap, live, rel string, o RestoreOptions) (Restored, error) {
	st, lt, err := openTops(snap, live)
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

func openTops(snap, live string) (tree, tree, error) {
	st, err := openTop(snap)
	if err != nil {
		return tree{}, tree{}, err
	}
	lt, err := openTop(live)
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
		if err := unlock(r.dirfd, r.name); err != nil {
			return r.fail("chattr", err)
		}
		if err := unix.Renameat2(r.dirfd, r.tmp, r.dirfd, r.name, unix.RENAME_EXCHANGE); err != nil {
			return r.fail("rename", err)
		}
	} else if err := unix.Renameat2(r.dirfd, r.tmp, r.dirfd, r.name, unix.RENAME_NOREPLACE); err != nil {
		return r.fail("rename", err)
	}
	old := r.tmp
	r.tmp = "" // ours no more: the path holds the restored inode
	if err := unix.Fsync(r.dirfd); err != nil {
		return out, r.pathErr("fsync", err)
	}
	if r.tmpfd >= 0 && !isDir && r.src.hasFl && r.src.flags&lockFlags != 0 {
		if err := setFlags(r.tmpfd, r.src.flags); err != nil {
			return out, r.pathErr("chattr", err)
		}
	}
	if exists {
		q, err := r.quarantine(old)
		out.Quarantined = q
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

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
		r.tmpfd, err = unix.Openat(r.dirfd, r.tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			r.tmp = ""
			return err
		}
		if s.hasFl && s.flags&^lockFlags != 0 {
			// Before the content: NOCOW, for one, takes only on an empty file.
			if err := setFlags(r.tmpfd, s.flags&^lockFlags); err != nil {
				return fmt.Errorf("chattr: %w", err)
			}
		}
		out.Cloned, err = clone(r.tmpfd, s.fd, s.st.Size)
		return err
	case unix.S_IFDIR:
		if err := unix.Mkdirat(r.dirfd, r.tmp, 0o700); err != nil {
			r.tmp = ""
			return err
		}
		r.tmpfd, err = openat2(r.dirfd, r.tmp, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
		return err
	case unix.S_IFLNK:
		if err := unix.Symlinkat(s.target, r.dirfd, r.tmp); err != nil {
			r.tmp = ""
			return err
		}
		return nil
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if err := unix.Mknodat(r.dirfd, r.tmp, s.st.Mode&unix.S_IFMT|0o600, int(s.st.Rdev)); err != nil {
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
func clone(dst, src int, size int64) (bool, error) {
	err := unix.IoctlFileClone(dst, src)
	if err == nil {
		return true, nil
	}
	if err != unix.EXDEV && err != unix.EOPNOTSUPP && err != unix.EINVAL && err != unix.ENOTTY {
		return false, fmt.Errorf("FICLONE: %w", err)
	}
	var off int64
	for off < size {
		n, err := unix.CopyFileRange(src, &off, dst, nil, int(min(size-off, 1<<30)), 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP {
			return false, copyRead(dst, src, off)
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
func copyRead(dst, src int, off int64) error {
	buf := make([]byte, 1<<20)
	for {
		n, err := unix.Pread(src, buf, off)
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
			m, err := unix.Pwrite(dst, buf[w:n], off+int64(w))
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
	link := s.Mode&unix.S_IFMT == unix.S_IFLNK
	var err error
	if fd >= 0 {
		err = unix.Fchown(fd, int(s.Uid), int(s.Gid))
	} else {
		err = unix.Fchownat(dirfd, name, int(s.Uid), int(s.Gid), unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if !link {
		if fd >= 0 {
			err = unix.Fchmod(fd, s.Mode&0o7777)
		} else {
			err = unix.Fchmodat(dirfd, name, s.Mode&0o7777, 0) // a node we made: not a link
		}
		if err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(fd, procPath(dirfd, name), r.src.xattrs); err != nil {
		return err
	}
	if s.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := setTimes(dirfd, name, s); err != nil {
			return err
		}
	}
	if sync && fd >= 0 {
		if err := unix.Fsync(fd); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
	}
	return nil
}

func setTimes(dirfd int, name string, s *unix.Stat_t) error {
	ts := []unix.Timespec{s.Atim, s.Mtim}
	if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat: %w", err)
	}
	return nil
}

// setXattrs makes the extended attributes of fd (or of the inode at p,
// not followed) exactly want: it sets each and removes the others (a new
// inode inherits default ACLs and may get a security label).
func setXattrs(fd int, p string, want []xattr) error {
	have, err := listXattrs(fd, p)
	if err != nil {
		return fmt.Errorf("listxattr: %w", err)
	}
	keep := map[string]bool{}
	for _, x := range want {
		keep[x.name] = true
		if fd >= 0 {
			err = unix.Fsetxattr(fd, x.name, x.value, 0)
		} else {
			err = unix.Lsetxattr(p, x.name, x.value, 0)
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
			err = unix.Fremovexattr(fd, x.name)
		} else {
			err = unix.Lremovexattr(p, x.name)
		}
		if err != nil && err != unix.ENODATA {
			return fmt.Errorf("removexattr %s: %w", x.name, err)
		}
	}
	return nil
}

func setFlags(fd int, f uint32) error {
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(f))
}

// unlock clears +i and +a on the inode called name in dirfd, if it is a
// file or directory that has them (nothing else has flags: a device node
// is never opened).
func unlock(dirfd int, name string) error {
	fd, err := openInode(dirfd, name)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || f&lockFlags == 0 {
		return nil // no flags here, or none to clear
	}
	return setFlags(fd, f&^lockFlags)
}

// openInode opens name in dirfd if it is a regular file or a directory
// (-1 otherwise), never following it.
func openInode(dirfd int, name string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		return -1, nil
	}
	fd, err := openat2(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, unix.RESOLVE_BENEATH)
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
	fd, err := openat2(r.dirfd, r.name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return r.pathErr("open", err)
	}
	defer unix.Close(fd)
	if f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && f&lockFlags != 0 {
		if err := setFlags(fd, f&^lockFlags); err != nil {
			return r.pathErr("chattr", err)
		}
	}
	if err := r.meta(r.dirfd, r.name, fd, false); err != nil {
		return r.pathErr("restore", err)
	}
	if r.src.hasFl {
		if err := setFlags(fd, r.src.flags&^lockFlags); err != nil {
			return r.pathErr("chattr", err)
		}
	}
	return nil
}

// FinishDir gives the live directory at rel the times and the inode flags
// (+i and +a too) of the snapshot's, and fsyncs it: after its entries were
// restored, which move its mtime and which +i would forbid.
func FinishDir(snap, live, rel string) error {
	st, lt, err := openTops(snap, live)
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
	fd, err := openat2(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return &os.PathError{Op: "open", Path: lt.path(rel), Err: err}
	}
	defer unix.Close(fd)
	if err := setTimes(dfd, name, &src.st); err != nil {
		return &os.PathError{Op: "finish", Path: lt.path(rel), Err: err}
	}
	if src.hasFl {
		if err := setFlags(fd, src.flags); err != nil {
			return &os.PathError{Op: "chattr", Path: lt.path(rel), Err: err}
		}
	}
	return unix.Fsync(fd)
}

// quarantine neutralizes the inode at tmp in the live parent and moves it
// to the quarantine directory; it returns where it went, relative to the
// live top.
func (r *restore) quarantine(tmp string) (string, error) {
	if err := neutralize(r.dirfd, tmp); err != nil {
		return "", r.pathErr("neutralize", err)
	}
	qrel, qfd, err := openQuarantine(r.live, r.o.Quarantine)
	if err != nil {
		return "", err
	}
	defer unix.Close(qfd)
	now := time.Now
	if r.o.Now != nil {
		now = r.o.Now
	}
	name := QuarantineName(now(), r.rel)
	if err := unix.Renameat2(r.dirfd, tmp, qfd, name, unix.RENAME_NOREPLACE); err != nil {
		return path.Join(path.Dir(r.rel), tmp), r.pathErr("quarantine", err)
	}
	if err := unix.Fsync(r.dirfd); err != nil {
		return path.Join(qrel, name), r.pathErr("fsync", err)
	}
	return path.Join(qrel, name), unix.Fsync(qfd)
}

// neutralize makes the inode called name in dirfd harmless where it lies:
// no +i/+a, no file capability, mode 000 (no setuid, setgid, execute),
// for every name it has. A symlink or a device node has no mode that
// matters and is left as it is.
func neutralize(dirfd int, name string) error {
	fd, err := openInode(dirfd, name)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	if f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && f&lockFlags != 0 {
		if err := setFlags(fd, f&^lockFlags); err != nil {
			return fmt.Errorf("chattr: %w", err)
		}
	}
	if err := unix.Fremovexattr(fd, "security.capability"); err != nil && err != unix.ENODATA {
		return fmt.Errorf("removexattr security.capability: %w", err)
	}
	if err := unix.Fchmod(fd, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return unix.Fsync(fd)
}

// Quarantine neutralizes the inode at rel below live (see [Restore]) and
// moves it to the quarantine directory: for an entry that a restored tree
// does not have. It returns where it went, relative to live.
func Quarantine(live, rel string, o RestoreOptions) (string, error) {
	lt, err := openTop(live)
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
	if err := unlock(dfd, name); err != nil {
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
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil && err != unix.EEXIST {
		return "", -1, &os.PathError{Op: "mkdir", Path: live.path(q), Err: err}
	}
	fd, err := openat2(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH)
	if err != nil {
		return "", -1, &os.PathError{Op: "open", Path: live.path(q), Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil && int(st.Uid) != unix.Geteuid() {
		err = fmt.Errorf("owned by uid %d: not a quarantine", st.Uid)
	}
	if err == nil && st.Mode&0o7777 != 0o700 {
		err = unix.Fchmod(fd, 0o700)
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
	lt, err := openTop(live)
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
