// Package scanner walks directory trees and produces one [merkle.Entry] per
// path, in [merkle.ComparePaths] order, with every attribute vigil records and
// the BLAKE3-256 of each regular file's content.
//
// Directory listing and hashing run in bounded worker pools; [Scan] calls its
// visit function from one goroutine, in order, and returns when the walk is
// done. Memory is bounded by the worker queues, the tree depth and directory
// fan-out, never by the number of files; a directory's fan-out costs only
// its sorted names (kept outside the Go heap for a large one), since its
// entries are lstat'ed, merge-joined with the [Cache]'s records and handed
// on a chunk at a time.
//
// Files are opened with O_RDONLY|O_NOFOLLOW|O_NOATIME|O_NONBLOCK|O_CLOEXEC
// relative to the directory that listed them, the handle is checked to be the
// entry that was lstat'ed (a regular file with nothing recorded to compare
// with is not lstat'ed first: its fstat must say regular file), hashed, and
// checked again afterwards; a file that
// keeps changing while it is read is recorded as unstable. FIFOs, sockets and
// devices are never opened, symlinks are never followed (a root is opened
// by its path with RESOLVE_NO_SYMLINKS, every directory below it relative to
// its parent's descriptor with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so paths
// longer than PATH_MAX are scanned like any other), and other filesystems
// are not entered unless [Options.CrossFilesystems] says so.
//
// Entries are stat'ed with statx, which gives the birth time with the rest.
// With [Options.Cache], a regular file whose inode, size, mtime and
// ctime equal the recorded ones, and whose birth time does where one was
// recorded ([merkle.Entry.Btime]), else its inode generation where one was
// recorded ([merkle.Entry.Gen]), is not read again (git's stat cache),
// unless its recorded mtime or ctime was not older than the moment its hash
// was taken (git's racy-clean rule), in which case it is hashed again, or
// [Options.Sample] picks it. A directory is always listed, but its inode
// flags and extended attributes are taken from its record by the same rule
// (inode, generation read from the open directory's file handle or with
// FS_IOC_GETVERSION, size, mtime and ctime; racy-clean against [merkle.Entry.HashedAt], the
// time they were read; not when the Sample picks it). [Options.Uncached]
// reads content from the device rather than the page cache.
//
// A file is read up to the size its fstat gave before the read, never
// further, and holes are hashed as zeros without being read; the scan's
// context is checked before every chunk.
//
// A file of 8 MiB or more is hashed on several cores when cores are idle:
// subtrees of BLAKE3's tree are read and hashed side by side and their
// chaining values merged, to the same BLAKE3-256 (see bigfile_linux.go;
// the chaining values come from lukechampine.com/blake3/guts).
//
// # Errors
//
// A path that vanishes between listing and opening is gone, not an error.
// Every other failure is recorded on the entry ([merkle.Entry.Err]), passed
// to [Options.OnError], counted, and the walk goes on. A directory that cannot
// be listed is recorded with its error and no children.
//
// # Caveats
//
// Times can be set back by root (through the clock), and some changes move
// none (offline edits, writes to the block device, writes through a shared
// writable mapping): the stat cache cannot see them, only rereading can,
// which is what [Sample] and Uncached full scans are for.
//
// An entry swapped for a device node between its lstat and its open could
// still be opened (O_NONBLOCK keeps FIFOs from blocking; the fstat check then
// refuses to read it). Inode flags are read with FS_IOC_GETFLAGS on the open
// file or directory; symlinks and special files have none.
//
// Scanning needs Linux (openat2, getdents64, the inode ioctls): elsewhere the
// package builds, and [Scan] returns [ErrUnsupported].
package scanner
