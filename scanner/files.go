package scanner

import (
	"errors"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/merkle"
)

// job is a regular file to open: to read its flags and extended attributes
// and, if hash is set, to hash its content.
type job struct {
	e      *merkle.Entry
	nostat bool   // e holds no stat yet: take the fstat as is
	dir    *dirFD // the directory to open e's name in; nil to open e.Path
	hash   bool
	gone   bool
	err    error
	done   chan struct{}
}

// hasher opens and hashes files; each worker goroutine has its own.
type hasher struct {
	opts *Options
	buf  []byte
	h    *blake3.Hasher
	xr   xattrReader
}

// bufSize is the read size per worker. BLAKE3 hashes 8 KiB at a time with
// AVX2, so 256 KiB reads lose nothing warm; cold, with 16 workers, they did
// as well as 1 MiB (12.7 s for both on a /usr copy) at a quarter of the
// memory.
const bufSize = 256 << 10

// maxAttempts is how often a file that changes while it is hashed is read
// before it is recorded as unstable.
const maxAttempts = 3

func newHasher(opts *Options) *hasher {
	return &hasher{opts: opts, h: blake3.New()}
}

// do runs j and closes j.done.
func (h *hasher) do(j *job) {
	defer close(j.done)
	e := j.e
	if err := h.opts.fault("open", e.Path); err != nil {
		h.fail(j, pathErr("open", e.Path, err))
		return
	}
	fd, err := h.open(j)
	if gone(err) {
		j.gone = true
		return
	}
	if err != nil {
		h.fail(j, pathErr("open", e.Path, err))
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		h.fail(j, pathErr("fstat", e.Path, err))
		return
	}
	if j.nostat || !sameFile(e, &st) {
		// Not lstat'ed, or replaced or modified since it was: record what
		// is there now.
		fillStat(e, &st)
		if e.Type != merkle.TypeFile {
			j.err = h.pathMeta(e)
			return
		}
		if j.hash && h.opts.MaxHashSize > 0 && e.Size > h.opts.MaxHashSize {
			j.hash, e.HashState = false, merkle.HashSkipped
		}
	}
	var errs []error
	if e.Attrs.Has(merkle.AttrFlags) {
		f, ok, err := inodeFlags(fd)
		e.Flags, e.HasFlags = f, ok
		errs = append(errs, pathErr("getflags", e.Path, err))
	}
	if e.Attrs.Has(merkle.AttrXattrs) {
		x, err := h.xr.fd(fd)
		e.Xattrs = x
		errs = append(errs, pathErr("xattrs", e.Path, err))
	}
	if j.hash {
		errs = append(errs, h.hashFile(fd, e, &st))
	}
	j.err = errors.Join(errs...)
}

// fileFlags open a file to read: never block on a FIFO swapped in, never
// make a terminal ours, never follow a symlink.
const fileFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// open opens j's file relative to its listed directory (or, for a root, by
// its path, refusing symlinks anywhere in it) and releases the directory.
func (h *hasher) open(j *job) (int, error) {
	if j.dir == nil {
		return openBeneath(j.e.Path, fileFlags)
	}
	defer j.dir.release()
	name := j.e.Name()
	for {
		fd, err := unix.Openat(j.dir.fd, name, fileFlags|unix.O_NOATIME, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EPERM):
			// O_NOATIME needs ownership or CAP_FOWNER.
			fd, err = unix.Openat(j.dir.fd, name, fileFlags, 0)
		}
		if err != nil && j.nostat && !gone(err) {
			// A file we may not open (not root, or an LSM said no) is
			// recorded with what lstat says, not with zeroed metadata
			// that the next check would report as changed.
			var st unix.Stat_t
			if unix.Fstatat(j.dir.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				fillStat(j.e, &st)
				j.nostat = false
			}
		}
		return fd, err
	}
}

// pathMeta reads what can be read of a non-regular file found where a
// regular one was listed.
func (h *hasher) pathMeta(e *merkle.Entry) error {
	e.HashState = merkle.HashNone
	if !e.Attrs.Has(merkle.AttrXattrs) {
		return nil
	}
	x, err := h.xr.path(e.Path)
	e.Xattrs = x
	return pathErr("xattrs", e.Path, err)
}

func (h *hasher) fail(j *job, err error) {
	j.err = err
	if j.hash {
		j.e.HashState = merkle.HashFailed
	}
}

// hashFile hashes the open file, re-reading it while it changes underneath.
// st is its fstat before the first read.
func (h *hasher) hashFile(fd int, e *merkle.Entry, st *unix.Stat_t) error {
	for range maxAttempts {
		at := time.Now().UnixNano()
		n, err := h.read(fd, e.Path, st.Size)
		if err != nil {
			e.HashState = merkle.HashFailed
			return pathErr("read", e.Path, err)
		}
		var after unix.Stat_t
		if err := unix.Fstat(fd, &after); err != nil {
			e.HashState = merkle.HashFailed
			return pathErr("fstat", e.Path, err)
		}
		if n == after.Size && sameFile(e, &after) {
			h.h.Sum(e.Hash[:0])
			e.HashState, e.HashedAt = merkle.HashOK, at
			if h.opts.Stats != nil {
				h.opts.Stats.Hashed.Add(1)
				h.opts.Stats.Bytes.Add(n)
			}
			return nil
		}
		fillStat(e, &after)
		*st = after
	}
	e.HashState = merkle.HashUnstable
	return nil
}

// read hashes the whole file into h.h and returns the number of bytes read.
// It stops at end of file; size, the expected size, saves the final empty
// read for files that fit in the buffer.
func (h *hasher) read(fd int, path string, size int64) (int64, error) {
	if h.buf == nil {
		h.buf = make([]byte, bufSize) // not before the first file: a check may read none
	}
	h.h.Reset()
	var off int64
	for {
		if err := h.opts.fault("read", path); err != nil {
			return off, err
		}
		n, err := unix.Pread(fd, h.buf, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return off, err
		}
		if n > 0 {
			h.h.Write(h.buf[:n])
			off += int64(n)
		}
		if n == 0 || (n < len(h.buf) && off >= size) {
			return off, nil
		}
	}
}

// skip abandons j after the scan was cancelled.
func (h *hasher) skip(j *job) {
	if j.dir != nil {
		j.dir.release()
	}
	j.gone = true
	close(j.done)
}
