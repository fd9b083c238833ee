//go:build linux

package fsys

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Openat2 opens p in the directory dirfd (unix.AT_FDCWD: the working
// directory) with flags, adding O_NOFOLLOW and O_CLOEXEC, and resolve,
// adding RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS: a symbolic link
// anywhere in p fails it with ELOOP. unix.RESOLVE_BENEATH keeps it below
// dirfd. It retries on EINTR, and without O_NOATIME where the kernel
// refuses O_NOATIME (EPERM: the caller neither owns the file nor has
// CAP_FOWNER).
func Openat2(dirfd int, p string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: resolve | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, p, &how)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EPERM) && how.Flags&unix.O_NOATIME != 0:
			how.Flags &^= unix.O_NOATIME
			continue
		}
		return fd, err
	}
}

// Readlinkat returns the target of the symbolic link name in dirfd.
func Readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// The methods below make one system call each, after offering it to the
// Injector as op on path (what the caller calls the inode: the injector's
// matching and nothing else use it).

// Openat2 is [Openat2], offered as [Open].
func (fs FS) Openat2(path string, dirfd int, name string, flags int, resolve uint64) (int, error) {
	if err := fs.inject(Open, path); err != nil {
		return -1, err
	}
	return Openat2(dirfd, name, flags, resolve)
}

// Openat is openat(2) of name in dirfd, offered as [Open].
func (fs FS) Openat(path string, dirfd int, name string, flags int, mode uint32) (int, error) {
	if err := fs.inject(Open, path); err != nil {
		return -1, err
	}
	return unix.Openat(dirfd, name, flags, mode)
}

// Mkdirat is offered as [Open].
func (fs FS) Mkdirat(path string, dirfd int, name string, mode uint32) error {
	if err := fs.inject(Open, path); err != nil {
		return err
	}
	return unix.Mkdirat(dirfd, name, mode)
}

// Symlinkat is offered as [Open].
func (fs FS) Symlinkat(path, target string, dirfd int, name string) error {
	if err := fs.inject(Open, path); err != nil {
		return err
	}
	return unix.Symlinkat(target, dirfd, name)
}

// Mknodat is offered as [Open].
func (fs FS) Mknodat(path string, dirfd int, name string, mode uint32, dev int) error {
	if err := fs.inject(Open, path); err != nil {
		return err
	}
	return unix.Mknodat(dirfd, name, mode, dev)
}

// Pread is offered as [Read].
func (fs FS) Pread(path string, fd int, b []byte, off int64) (int, error) {
	if err := fs.inject(Read, path); err != nil {
		return 0, err
	}
	return unix.Pread(fd, b, off)
}

// Pwrite is offered as [Write].
func (fs FS) Pwrite(path string, fd int, b []byte, off int64) (int, error) {
	if err := fs.inject(Write, path); err != nil {
		return 0, err
	}
	return unix.Pwrite(fd, b, off)
}

// CopyFileRange copies n bytes from src at *off to dst at its offset,
// offered as [Write].
func (fs FS) CopyFileRange(path string, src int, off *int64, dst int, n int) (int, error) {
	if err := fs.inject(Write, path); err != nil {
		return 0, err
	}
	return unix.CopyFileRange(src, off, dst, nil, n, 0)
}

// Fsync is offered as [Fsync].
func (fs FS) Fsync(path string, fd int) error {
	if err := fs.inject(Fsync, path); err != nil {
		return err
	}
	return unix.Fsync(fd)
}

// Renameat2 is offered as [Rename].
func (fs FS) Renameat2(path string, olddirfd int, oldname string, newdirfd int, newname string, flags uint) error {
	if err := fs.inject(Rename, path); err != nil {
		return err
	}
	return unix.Renameat2(olddirfd, oldname, newdirfd, newname, flags)
}

// Fsetxattr is offered as [Setxattr].
func (fs FS) Fsetxattr(path string, fd int, name string, value []byte) error {
	if err := fs.inject(Setxattr, path); err != nil {
		return err
	}
	return unix.Fsetxattr(fd, name, value, 0)
}

// Lsetxattr sets an attribute of the inode at p, not followed; offered as
// [Setxattr].
func (fs FS) Lsetxattr(path, p, name string, value []byte) error {
	if err := fs.inject(Setxattr, path); err != nil {
		return err
	}
	return unix.Lsetxattr(p, name, value, 0)
}

// Fremovexattr is offered as [Setxattr].
func (fs FS) Fremovexattr(path string, fd int, name string) error {
	if err := fs.inject(Setxattr, path); err != nil {
		return err
	}
	return unix.Fremovexattr(fd, name)
}

// Lremovexattr removes an attribute of the inode at p, not followed;
// offered as [Setxattr].
func (fs FS) Lremovexattr(path, p, name string) error {
	if err := fs.inject(Setxattr, path); err != nil {
		return err
	}
	return unix.Lremovexattr(p, name)
}

// Fchown is offered as [Setattr].
func (fs FS) Fchown(path string, fd, uid, gid int) error {
	if err := fs.inject(Setattr, path); err != nil {
		return err
	}
	return unix.Fchown(fd, uid, gid)
}

// Fchownat is offered as [Setattr].
func (fs FS) Fchownat(path string, dirfd int, name string, uid, gid, flags int) error {
	if err := fs.inject(Setattr, path); err != nil {
		return err
	}
	return unix.Fchownat(dirfd, name, uid, gid, flags)
}

// Fchmod is offered as [Setattr].
func (fs FS) Fchmod(path string, fd int, mode uint32) error {
	if err := fs.inject(Setattr, path); err != nil {
		return err
	}
	return unix.Fchmod(fd, mode)
}

// Fchmodat is offered as [Setattr].
func (fs FS) Fchmodat(path string, dirfd int, name string, mode uint32, flags int) error {
	if err := fs.inject(Setattr, path); err != nil {
		return err
	}
	return unix.Fchmodat(dirfd, name, mode, flags)
}

// UtimesNanoAt is offered as [Setattr].
func (fs FS) UtimesNanoAt(path string, dirfd int, name string, ts []unix.Timespec, flags int) error {
	if err := fs.inject(Setattr, path); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dirfd, name, ts, flags)
}

// Clone is the FICLONE ioctl (dst shares src's extents), offered as
// [Ioctl].
func (fs FS) Clone(path string, dst, src int) error {
	if err := fs.inject(Ioctl, path); err != nil {
		return err
	}
	return unix.IoctlFileClone(dst, src)
}

// GetFlags reads the inode flags (FS_IOC_GETFLAGS), offered as [Ioctl].
func (fs FS) GetFlags(path string, fd int) (uint32, error) {
	if err := fs.inject(Ioctl, path); err != nil {
		return 0, err
	}
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// SetFlags sets the inode flags (FS_IOC_SETFLAGS), offered as [Ioctl].
func (fs FS) SetFlags(path string, fd int, flags uint32) error {
	if err := fs.inject(Ioctl, path); err != nil {
		return err
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
}
