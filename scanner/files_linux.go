package scanner

import (
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

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
	// sampled, for a file the keyed sample rereads, is its recorded entry:
	// when the reread confirms it, the recorded hash time is kept, so that
	// the sample costs no database write.
	sampled *merkle.Entry
}

// hasher opens and hashes files; each worker goroutine has its own.
type hasher struct {
	opts   *Options
	buf    []byte // the read in progress's buffer: small or big, aligned for O_DIRECT
	small  []byte // this worker's buffer for files of at most smallBufSize
	h      *blake3.Hasher
	xr     xattrReader
	direct bool // the file being read is open with O_DIRECT

	big *[32]byte // the last read's hash when it ran on several cores (bigfile_linux.go)

	// The read in progress: its file, that file's fstat before the read,
	// and the chunks since the last look at whether it changed.
	fd     int
	st     *unix.Stat_t
	chunks int
}

// bufSize is the read size per worker. BLAKE3 hashes 8 KiB at a time with
// AVX2, so 256 KiB reads lose nothing warm; cold, with 16 workers, they did
// as well as 1 MiB (12.7 s for both on a /usr copy) at a quarter of the
// memory.
const bufSize = 256 << 10

// smallBufSize is the buffer of a file that fits in it. Only larger files
// take a bufSize buffer, from bigBufs, and give it back when done: a check
// rereads a sample of mostly small files on 8 workers per CPU, and a big
// buffer kept by each of them was 4 MiB of live heap (12 MiB of peak heap
// at GOGC=200) for reads that did not need it.
const smallBufSize = 16 << 10

// bigBufs holds the bufSize buffers not in use.
var bigBufs = sync.Pool{New: func() any { b := alignedBuf(bufSize); return &b }}

// maxAttempts is how often a file that changes while it is hashed is read
// before it is recorded as unstable.
const maxAttempts = 3

func newHasher(opts *Options) *hasher {
	return &hasher{opts: opts, h: blake3.New()}
}

// do runs j and closes j.done; ctx stops a long read.
func (h *hasher) do(ctx context.Context, j *job) {
	defer close(j.done)
	if j.dir != nil {
		defer j.dir.release()
	}
	e := j.e
	if err := h.opts.fault("open", e.Path); err != nil {
		h.fail(j, pathErr("open", e.Path, err))
		return
	}
	fd, bound, err := h.open(j)
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
	g, gok := uint64(0), false
	if bound {
		g, gok = handleGen(fd, "", unix.AT_EMPTY_PATH, e.Inode)
	}
	btime := e.Btime
	if gok && g == j.sampled.Gen {
		st = statOf(e)
	} else if bt, err := fstatx(fd, &st); err != nil {
		h.fail(j, pathErr("fstat", e.Path, err))
		return
	} else {
		btime = bt // the opened inode's, whatever the listing saw
		if st.Ino != e.Inode {
			gok = false // the handle's generation was another inode's
		}
	}
	e.Btime = btime
	if j.nostat || !sameFile(e, &st) {
		// Not lstat'ed, or replaced or modified since it was: record what
		// is there now.
		fillStat(e, &st, btime)
		if e.Type != merkle.TypeFile {
			j.err = h.pathMeta(e, j.dir)
			return
		}
		if j.hash && h.opts.MaxHashSize > 0 && e.Size > h.opts.MaxHashSize {
			j.hash, e.HashState = false, merkle.HashSkipped
		}
	}
	var errs []error
	if !gok && btime == 0 { // a birth time tells a reused inode number apart without it
		var err error
		g, gok, err = inodeGen(fd)
		errs = append(errs, pathErr("getversion", e.Path, err))
	}
	e.Gen, e.HasGen = g, gok
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
		errs = append(errs, h.hashFile(ctx, fd, e, &st))
		if o := j.sampled; o != nil && e.HashState == o.HashState && e.Hash == o.Hash && e.Size == o.Size &&
			e.Mtime == o.Mtime && e.Ctime == o.Ctime {
			e.HashedAt = o.HashedAt
		}
	}
	j.err = errors.Join(errs...)
}

// fileFlags open a file to read: never block on a FIFO swapped in, never
// make a terminal ours, never follow a symlink.
const fileFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// open opens j's file relative to its listed directory (or, for a root, by
// its path, refusing symlinks anywhere in it). nox says the file is one
// the keyed sample rereads, whose record has a generation, small enough
// that its block count does not matter (see [hasher.readAll]), and was
// opened without crossing a mount point (RESOLVE_NO_XDEV): on the lstat's
// device, so that a file handle naming the recorded inode and generation
// (the lstat's inode, as the stat cache matched it) proves it that inode,
// a regular file, and stands in for the fstat before the read. The
// generation matters: an inode number freed after the lstat can be reused
// at once (ext4 does), for a FIFO as well as for a file.
func (h *hasher) open(j *job) (fd int, nox bool, err error) {
	if j.dir == nil {
		fd, err = openBeneath(h.opts.phys(j.e.Path), fileFlags)
		return fd, false, err
	}
	name := j.e.Name()
	if o := j.sampled; o != nil && o.HasGen && !j.nostat && j.dir.dev == j.e.Dev && j.e.Size <= bufSize &&
		j.e.Type == merkle.TypeFile && o.Inode == j.e.Inode {
		fd, err = openat2(j.dir.fd, name, fileFlags, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_XDEV)
		if !errors.Is(err, unix.EXDEV) {
			return fd, err == nil, err
		}
		// Something is mounted there since the lstat: open what is.
	}
	fd, err = h.openAt(j, name)
	return fd, false, err
}

// statOf returns the stat that e was filled from.
func statOf(e *merkle.Entry) unix.Stat_t {
	st := unix.Stat_t{Dev: e.Dev, Ino: e.Inode, Mode: typeMode(e.Type) | e.Perm, Uid: e.UID, Gid: e.GID,
		Rdev: e.Rdev, Size: e.Size, Mtim: unix.NsecToTimespec(e.Mtime), Ctim: unix.NsecToTimespec(e.Ctime)}
	setUint(&st.Nlink, e.Nlink)
	return st
}

// setUint sets a field whose width differs between architectures.
func setUint[T ~uint32 | ~uint64](dst *T, v uint64) { *dst = T(v) }

// openAt opens name in j's directory, with O_NOATIME where allowed.
func (h *hasher) openAt(j *job, name string) (int, error) {
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
			if bt, err := statxAt(j.dir.fd, name, unix.AT_SYMLINK_NOFOLLOW, &st); err == nil {
				fillStat(j.e, &st, bt)
				j.nostat = false
			}
		}
		return fd, err
	}
}

// pathMeta reads what can be read of a non-regular file found where a
// regular one was listed.
func (h *hasher) pathMeta(e *merkle.Entry, dir *dirFD) error {
	e.HashState = merkle.HashNone
	if !e.Attrs.Has(merkle.AttrXattrs) {
		return nil
	}
	dirfd := -1
	if dir != nil {
		dirfd = dir.fd
	}
	x, err := h.xr.at(dirfd, e.Name(), h.opts.phys(e.Path))
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
// st is its fstat before the first read. No attempt reads past the size the
// fstat before it gave, and all attempts together read at most maxAttempts
// times the first size (or buffer): a file that keeps growing is recorded as
// unstable instead of being read forever.
func (h *hasher) hashFile(ctx context.Context, fd int, e *merkle.Entry, st *unix.Stat_t) error {
	budget := maxAttempts * max(st.Size, bufSize)
	if h.opts.Uncached {
		h.direct = setDirect(fd, true) == nil
	}
	for range maxAttempts {
		if st.Size > budget {
			break
		}
		if h.opts.Uncached && !h.direct {
			if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
				e.HashState = merkle.HashFailed
				return pathErr("fadvise", e.Path, err)
			}
		}
		at := time.Now().UnixNano()
		n, err := h.read(ctx, fd, e.Path, st)
		budget -= n
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
			h.sum(e.Hash[:0])
			e.HashState, e.HashedAt = merkle.HashOK, at
			if h.opts.Stats != nil {
				h.opts.Stats.Hashed.Add(1)
				h.opts.Stats.Bytes.Add(n)
			}
			return nil
		}
		fillStat(e, &after, e.Btime) // the same open inode
		*st = after
	}
	e.HashState = merkle.HashUnstable
	return nil
}

// read hashes the first st.Size bytes of the file into h.h (fewer if it
// ends sooner) and returns the number of bytes hashed. A file larger than
// the buffer with fewer blocks than its size has holes: they are found with
// SEEK_DATA/SEEK_HOLE
// and hashed as the zeros they read as, without reading them. It checks ctx
// before every chunk, so a cancelled scan stops within one chunk.
func (h *hasher) read(ctx context.Context, fd int, path string, st *unix.Stat_t) (int64, error) {
	defer readEnd()
	if n, ok, err := h.readBig(ctx, fd, path, st); ok {
		return n, err
	}
	if st.Size <= smallBufSize {
		if h.small == nil {
			h.small = alignedBuf(smallBufSize) // not before the first file: a check may read none
		}
		h.buf = h.small
	} else {
		big := bigBufs.Get().(*[]byte)
		h.buf = *big
		defer func() { h.buf = nil; bigBufs.Put(big) }()
	}
	h.h.Reset()
	h.fd, h.st, h.chunks = fd, st, 0
	n, err := h.readAll(ctx, fd, path, st.Size, st.Blocks)
	if errors.Is(err, errChanged) {
		return n, nil // the caller's fstat sees the change
	}
	return n, err
}

// readAll is read without the bookkeeping.
func (h *hasher) readAll(ctx context.Context, fd int, path string, size, blocks int64) (int64, error) {
	if size <= bufSize || blocks*512 >= size {
		// Not worth two lseeks, or no holes.
		return h.readRange(ctx, fd, path, 0, size)
	}
	var off int64
	for off < size {
		data, hole, err := nextData(fd, off, size)
		if err != nil {
			return off, err
		}
		n, err := h.zeros(ctx, path, data-off)
		if err != nil {
			return off + n, err
		}
		n, err = h.readRange(ctx, fd, path, data, hole)
		off = data + n
		if err != nil || off < hole {
			return off, err // an error, or the file ended early
		}
	}
	return off, nil
}

// nextData returns the next data extent [data, hole) at or after off, both
// at most size; data == size if there is no more data before size.
func nextData(fd int, off, size int64) (data, hole int64, err error) {
	data, err = unix.Seek(fd, off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size, size, nil // only a hole up to the end
	case errors.Is(err, unix.EINVAL):
		return off, size, nil // no SEEK_DATA here: read it all
	case err != nil:
		return 0, 0, err
	case data >= size:
		return size, size, nil
	}
	hole, err = unix.Seek(fd, data, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, err
	}
	return data, min(max(hole, data), size), nil
}

// readRange reads and hashes bytes [off, end) of the file and returns how
// many it hashed, fewer if the file ends before end.
func (h *hasher) readRange(ctx context.Context, fd int, path string, off, end int64) (int64, error) {
	start := off
	for off < end {
		if err := h.chunk(ctx, path); err != nil {
			return off - start, err
		}
		want := min(int64(len(h.buf)), end-off)
		if h.direct {
			want = min(roundUp(want), int64(len(h.buf))) // O_DIRECT reads whole blocks
		}
		n, err := unix.Pread(fd, h.buf[:want], off)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case h.direct && errors.Is(err, unix.EINVAL):
			// Not aligned as this filesystem needs: read through the
			// page cache after dropping it.
			h.direct = false
			err = errors.Join(setDirect(fd, false), unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED))
			if err == nil {
				continue
			}
		}
		if err != nil {
			return off - start, err
		}
		if n == 0 {
			break // shorter than its fstat said
		}
		n = int(min(int64(n), end-off))
		h.h.Write(h.buf[:n])
		off += int64(n)
	}
	return off - start, nil
}

// Uncached reads use the same 256 KiB buffer. They get no readahead, so
// for one large file bigger reads would pay (64 MiB: 321 MB/s in 256 KiB
// reads, 789 MB/s in 1 MiB, 1409 MB/s in 4 MiB), but with a worker per
// file in flight they did not on a real tree (check --full of 666 MiB in
// 2306 files: 2.2-2.5 s either way, with twice the memory for 1 MiB).

// directAlign is the alignment O_DIRECT needs of buffers, offsets and
// lengths: the logical block size, at most the page size.
const directAlign = 4096

// alignedBuf returns a buffer of n bytes that starts on a directAlign
// boundary.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[skip : skip+n : skip+n]
}

func roundUp(n int64) int64 { return (n + directAlign - 1) &^ (directAlign - 1) }

// setDirect turns O_DIRECT on or off for the open file.
func setDirect(fd int, on bool) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

// zeroChunk is what a hole reads as, one buffer at a time.
var zeroChunk [bufSize]byte

// zeros hashes n zero bytes, the content of a hole, and returns how many it
// hashed.
func (h *hasher) zeros(ctx context.Context, path string, n int64) (int64, error) {
	var done int64
	for done < n {
		if err := h.chunk(ctx, path); err != nil {
			return done, err
		}
		k := min(n-done, bufSize)
		h.h.Write(zeroChunk[:k])
		done += k
	}
	return done, nil
}

// errChanged stops a read whose file changed under it; it never leaves the
// hasher.
var errChanged = errors.New("changed while read")

// restatChunks is how many chunks (64 MiB) are read between looks at
// whether the file changed: a file that changes under a long read is read
// again, or found unstable, without first reading or hashing to the end.
const restatChunks = 256

// chunk is called before each chunk of a file is read or hashed: it stops
// a cancelled scan, injects "read" faults, and every restatChunks chunks
// stops the read with errChanged if the file changed.
func (h *hasher) chunk(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.opts.Stats != nil {
		h.opts.Stats.Chunks.Add(1)
	}
	if h.opts.Pace != nil {
		h.opts.Pace()
	}
	if h.chunks++; h.chunks%restatChunks == 0 {
		var st unix.Stat_t
		if err := unix.Fstat(h.fd, &st); err != nil {
			return err
		}
		if st.Size != h.st.Size || st.Mtim != h.st.Mtim || st.Ctim != h.st.Ctim || st.Ino != h.st.Ino {
			return errChanged
		}
	}
	return h.opts.fault("read", path)
}

// skip abandons j after the scan was cancelled.
func (h *hasher) skip(j *job) {
	if j.dir != nil {
		j.dir.release()
	}
	j.gone = true
	close(j.done)
}
