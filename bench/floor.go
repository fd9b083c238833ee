package bench

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// FloorOptions tune [Floor]. The zero value means 2 workers with a 1 MiB
// buffer each.
type FloorOptions struct {
	// Workers is the number of goroutines that open and hash files; 0 means 2.
	Workers int
	// BufferSize is the size of each worker's read buffer; 0 means 1 MiB.
	BufferSize int
}

// FloorStats counts what [Floor] saw.
type FloorStats struct {
	Files    int64 // regular files hashed
	Dirs     int64 // directories read, the root included
	Symlinks int64 // symlinks stat-ed and read
	Other    int64 // other entries stat-ed
	Bytes    int64 // content bytes hashed
	// Digest is the XOR of the BLAKE3-256 hashes of all regular files: it does
	// not depend on the order of the walk, so two walks of a tree agree.
	Digest [32]byte
}

// Floor does, for the directory tree at root, the file system work of a baseline with as little else as
// possible, as the floor vigil init is measured against. One goroutine walks
// root with os.File.ReadDir, lstat-ing directories and other entries and
// reading symlinks; Workers goroutines take regular files from a bounded
// channel, open each with O_NOFOLLOW, fstat it, read it into a reused buffer
// and hash it with BLAKE3. A read shorter than the buffer that reaches the
// size fstat reported ends the file, which saves the read that returns 0 on
// small files. Entries that vanish during the walk are skipped; any other
// failure stops it.
func Floor(ctx context.Context, root string, opts FloorOptions) (FloorStats, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 1 << 20
	}
	g, ctx := errgroup.WithContext(ctx)
	files := make(chan string, 256)
	w := walker{files: files}
	g.Go(func() error {
		defer close(files)
		return w.dir(ctx, filepath.Clean(root))
	})
	hashed := make([]FloorStats, opts.Workers)
	for i := range hashed {
		g.Go(func() error { return hashFiles(ctx, files, opts.BufferSize, &hashed[i]) })
	}
	err := g.Wait()
	st := w.st
	for _, h := range hashed {
		st.Files += h.Files
		st.Bytes += h.Bytes
		xorInto(&st.Digest, &h.Digest)
	}
	return st, err
}

// walker lists a tree and hands regular files to the hashing workers.
type walker struct {
	files chan<- string
	st    FloorStats
}

// entry handles the entry at path whose type ReadDir reported as typ.
func (w *walker) entry(ctx context.Context, path string, typ fs.FileMode) error {
	var err error
	switch {
	case typ.IsRegular():
		select {
		case w.files <- path:
		case <-ctx.Done():
			return ctx.Err()
		}
	case typ.IsDir():
		err = w.dir(ctx, path)
	case typ&fs.ModeSymlink != 0:
		w.st.Symlinks++
		err = lstat(path)
		if err == nil {
			_, err = os.Readlink(path)
		}
	default:
		w.st.Other++
		err = lstat(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (w *walker) dir(ctx context.Context, path string) error {
	if err := lstat(path); err != nil {
		return err
	}
	w.st.Dirs++
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := w.entry(ctx, path+"/"+e.Name(), e.Type()); err != nil {
			return err
		}
	}
	return nil
}

func lstat(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return nil
}

// hashFiles hashes the files it receives until the channel closes, adding
// counts and hashes to st.
func hashFiles(ctx context.Context, files <-chan string, bufSize int, st *FloorStats) error {
	buf := make([]byte, bufSize)
	h := blake3.New()
	var sum [32]byte
	for {
		var path string
		var ok bool
		select {
		case path, ok = <-files:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		n, err := hashFile(path, buf, h)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		h.Sum(sum[:0])
		xorInto(&st.Digest, &sum)
		st.Files++
		st.Bytes += n
	}
}

// hashFile hashes the regular file at path into h (after a reset) and
// returns its length.
func hashFile(path string, buf []byte, h *blake3.Hasher) (n int64, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() {
		if cerr := unix.Close(fd); err == nil && cerr != nil {
			err = &fs.PathError{Op: "close", Path: path, Err: cerr}
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	h.Reset()
	for {
		k, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		_, _ = h.Write(buf[:k]) // a hash.Hash never fails to write
		n += int64(k)
		if k == 0 || (k < len(buf) && n >= st.Size) {
			return n, nil
		}
	}
}

func xorInto(dst, src *[32]byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}
