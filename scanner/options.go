package scanner

import (
	"runtime"
	"sync/atomic"

	"vigil/merkle"
)

// Options configure a scan. The zero value scans everything with default
// worker counts and no stat cache.
type Options struct {
	// HashWorkers is the number of goroutines that open and hash files;
	// 0 means [DefaultHashWorkers].
	HashWorkers int
	// DirWorkers is the number of goroutines that list directories ahead of
	// the walk; 0 means [DefaultDirWorkers].
	DirWorkers int
	// Filter returns the attributes monitored at path, or excluded true to
	// leave path and its subtree out; dir says whether path is a directory
	// (where the directory listing does not say, true until an lstat has
	// said otherwise, then asked again). nil monitors everything
	// everywhere.
	Filter func(path string, dir bool) (attrs merkle.Attr, excluded bool)
	// CrossFilesystems lets the walk descend into directories on another
	// device than their root's. Such directories are recorded either way.
	CrossFilesystems bool
	// MaxHashSize, if positive, is the largest file size hashed; larger files
	// are recorded as [merkle.HashSkipped].
	MaxHashSize int64
	// Cache holds the previous baseline for the stat cache; nil hashes every
	// file.
	Cache Cache
	// Sample, if set, reads again a keyed, rotating share of the files the
	// stat cache would trust (see [Sample]).
	Sample *Sample
	// Uncached reads file content from the storage device, not from the
	// page cache, which a write to the block device beneath the
	// filesystem leaves stale: with O_DIRECT, or, where the filesystem has
	// no direct I/O, after dropping the file's cached pages
	// (POSIX_FADV_DONTNEED, which spares pages that are mapped). For
	// check --full; it makes every read a disk read.
	Uncached bool
	// Source, if set, maps roots to the directories they are read from,
	// a Btrfs snapshot's copy of each, while entries keep the roots'
	// paths: one consistent point in time, no race with writers. Only
	// what lies below a root is read from its copy; the directories above
	// it are read where they are. DevMap maps the device numbers read from
	// the copies to the ones recorded (a snapshot's to its live
	// subvolume's). A directory of inode 2 in a copy, the empty
	// placeholder a snapshot holds for a nested subvolume, is read from
	// its live path instead, as a walk of the live tree sees it.
	Source map[string]string
	DevMap map[uint64]uint64
	// RootDevs, if set, gives for some roots the device of the
	// filesystem they count as part of: a directory root on another device
	// is recorded but, without CrossFilesystems, not descended into, as
	// if the walk had come to it from above. For subtrees scanned on their
	// own (scoped checks) inside a larger root.
	RootDevs map[string]uint64
	// Ancestors makes the scan also record the directories above each root,
	// up to "/", with their type, mode, owner and inode, so that the result
	// is one tree from "/".
	Ancestors bool
	// OnError is called with every per-path error (from the visit goroutine);
	// a non-nil return stops the scan with that error. nil keeps going.
	OnError func(path string, err error) error
	// Fault, if set, is called before each system call the scanner makes on
	// a path: op is "lstat", "opendir", "open" or "read" ("read" comes
	// before each chunk of a file is read or, for a hole, hashed as zeros).
	// A non-nil error is used as if the call had failed. It exists to
	// inject faults in tests.
	Fault func(op, path string) error
	// Stats, if set, is updated while the scan runs, so that a caller can
	// show progress.
	Stats *Stats
	// Pace, if set, is called before each chunk of file content is read
	// or hashed; it may block, to give way to more urgent work (the watch
	// reads a large file apart while it verifies small ones).
	Pace func()
}

// Cache gives the scanner the recorded entries of a directory, a chunk at a
// time: the scanner merge-joins them with the directory's sorted listing,
// so that a huge directory's records are never all in memory at once.
type Cache interface {
	// Children returns, in name order, the first n recorded entries
	// directly inside dir whose names sort after after (from the first if
	// after is ""); fewer than n only when no more follow, none if dir was
	// not recorded.
	Children(dir, after string, n int) ([]merkle.Entry, error)
}

// Stats counts what a scan did. Its fields are updated atomically while the
// scan runs.
type Stats struct {
	Entries   atomic.Int64 // entries visited
	Hashed    atomic.Int64 // files read and hashed
	Bytes     atomic.Int64 // bytes hashed
	CacheHits atomic.Int64 // files whose hash came from the cache
	Sampled   atomic.Int64 // files the cache trusted, read again for the Sample
	// DirCacheHits counts directories whose inode flags and extended
	// attributes came from the cache.
	DirCacheHits atomic.Int64
	Errors       atomic.Int64 // per-path errors
	// Chunks counts the chunks (256 KiB) of file content read or hashed
	// so far, holes included: progress within one big file.
	Chunks atomic.Int64
}

// DefaultHashWorkers returns the default number of hash workers: eight per
// CPU. Warm, 2, 4 and 8 workers on 2 CPUs took the same time (a /usr copy,
// 300,000 small files); cold, more reads in flight keep the disk busy: 16
// workers took 12.7 s on the /usr copy where 4 took 16.0 s.
func DefaultHashWorkers() int { return 8 * runtime.GOMAXPROCS(0) }

// DefaultDirWorkers returns the default number of directory listers: two
// per CPU (4 listers on 2 CPUs did best cold; warm, 2 and more were equal).
func DefaultDirWorkers() int { return 2 * runtime.GOMAXPROCS(0) }

// ancestorAttrs are what is attested of the directories above a root: their
// mtime, ctime, size and link count move with unrelated siblings.
const ancestorAttrs = merkle.AttrType | merkle.AttrMode | merkle.AttrUID |
	merkle.AttrGID | merkle.AttrInode | merkle.AttrTarget

func (o *Options) filter(path string, dir bool) (merkle.Attr, bool) {
	if o.Filter == nil {
		return merkle.AttrAll, false
	}
	a, ex := o.Filter(path, dir)
	return a | merkle.AttrType, ex
}

// phys returns where path is read from: its place in the copy of the
// Source root holding it, or path itself.
func (o *Options) phys(path string) string {
	for r, src := range o.Source {
		if !merkle.Within(path, r) {
			continue
		}
		if r == "/" {
			return src + path
		}
		return src + path[len(r):]
	}
	return path
}

// placeholderIno is the inode of the directory a Btrfs snapshot holds
// where its subvolume held a nested one (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID).
const placeholderIno = 2

func (o *Options) fault(op, path string) error {
	if o.Fault == nil {
		return nil
	}
	return o.Fault(op, path)
}
