// Package fsys is where vigil opens paths without following symbolic links,
// and the seam where tests make the calls that write to the host fail.
//
// [Openat2] is the one openat2 wrapper: no symlink and no magic link
// anywhere in the path (RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, and
// O_NOFOLLOW for the last element), O_CLOEXEC, EINTR retried, O_NOATIME
// dropped where the kernel refuses it (it needs ownership or CAP_FOWNER).
// The scanner and the Btrfs restore both open through it.
//
// An [FS] makes the calls a restore makes (open, read, write, fsync,
// rename, setxattr, setattr, ioctl), each first offered to its [Injector]:
// the zero value makes the real calls, and a test sets one ([Fail]) to fail
// a chosen call with a chosen errno, EIO or ENOSPC, as
// cockroachdb/pebble's vfs/errorfs does for its storage.
//
// # Caveats
//
// Only the calls made through an FS can be failed: the scanner's reads
// have their own hook (scanner.Options.Fault), and bbolt writes through
// its own file. The calls need Linux: FS has no methods elsewhere, and
// [Openat2] and [Readlinkat] return [ErrUnsupported].
package fsys
