package scanner

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/fsys"
	"vigil/merkle"
)

// dirFD is an open directory shared by the jobs that open files in it; the
// last release closes it.
type dirFD struct {
	fd int
	// dev is the device it is on: as its fstat said, or its parent's, which
	// RESOLVE_NO_XDEV held it to.
	dev  uint64
	refs atomic.Int32
}

func (d *dirFD) hold() { d.refs.Add(1) }

func (d *dirFD) release() {
	if d.refs.Add(-1) == 0 {
		unix.Close(d.fd)
	}
}

// listing is what a lister found in a directory.
type listing struct {
	dir    *dirFD      // still open if some child is a file job; the walk holds one reference
	self   unix.Stat_t // fstat of the opened directory
	xattrs []merkle.Xattr
	flags  uint32
	hasFl  bool
	gen    uint64
	hasGen bool
	readAt int64 // when flags and xattrs were read (ns), or the record's time for them
	// bound says self is the lstat's, the open directory having been
	// proven the same inode by its file handle, which gave gen.
	bound   bool
	genRead bool  // gen was read (by bind)
	err     error // the directory could not be (fully) listed
	gone    bool  // it vanished before it could be opened
	kids    []child
	// rest, for a directory of more than listChunk entries, is what is left
	// to list once the walk has passed kids (dir stays open for it).
	rest *dirRest
}

// listChunk is how many children of a directory are lstat'ed and held at a
// time. A larger directory is listed a chunk at a time as the walk reaches
// it: what it holds of the directory is then its sorted names (six bytes
// more than the name each) and one chunk of entries (about 250 bytes each,
// and as much again for their records), not every entry at once.
const listChunk = 4096

// dirRest is what is left to list of a directory larger than a chunk.
type dirRest struct {
	t     *dirTask
	fd    int // the open directory (the listing's dir)
	names dirNames
	next  int        // index in names of the next child to list
	rec   *recCursor // the recorded children, nil without a stat cache
}

// child is one entry of a listing, complete unless job says what is left to
// do for it.
type child struct {
	e      *merkle.Entry
	err    error
	task   *dirTask // a directory to descend into
	job    bool     // a regular file to open (and hash if hash is set)
	hash   bool
	nostat bool // not lstat'ed: the job's fstat fills in the entry
	// sampled is the recorded entry of a file the stat cache would trust
	// but the keyed sample rereads.
	sampled *merkle.Entry
}

// lister lists directories; each goroutine has its own.
type lister struct {
	opts   *Options
	sched  *sched
	buf    []byte   // for getdents
	names  dirNames // of the directory being listed, reused
	xr     xattrReader
	sample *sampler // nil without a sample
	// fsTypes are the filesystem types of the devices seen, for listEnd.
	fsTypes map[uint64]int64
}

func newLister(opts *Options, s *sched) *lister {
	return &lister{opts: opts, sched: s, buf: make([]byte, 64<<10), sample: newSampler(opts.Sample)}
}

// openBeneath opens path with flags, refusing symlinks anywhere in it, with
// O_NOATIME when the kernel allows.
func openBeneath(path string, flags int) (int, error) {
	return openat2(unix.AT_FDCWD, path, flags, 0)
}

// openIn opens name, one element, in the open directory dirfd, refusing a
// symlink: paths longer than PATH_MAX stay reachable, and nothing above the
// directory is looked up again.
func openIn(dirfd int, name string, flags int) (int, error) {
	return openat2(dirfd, name, flags, unix.RESOLVE_BENEATH)
}

func openat2(dirfd int, path string, flags int, resolve uint64) (int, error) {
	if flags&unix.O_PATH == 0 {
		flags |= unix.O_NOATIME // openat2 refuses it with O_PATH
	}
	return fsys.Openat2(dirfd, path, flags, resolve)
}

// openDir opens t's directory: relative to its parent's descriptor, or by
// path for a root. It releases the parent. nox says the open did not cross
// a mount point (RESOLVE_NO_XDEV): the directory is on its parent's device.
func openDir(opts *Options, t *dirTask) (fd int, nox bool, err error) {
	if t.live {
		t.releaseParent()
		fd, err = openBeneath(t.path, unix.O_RDONLY|unix.O_DIRECTORY)
		return fd, false, err
	}
	if t.parent == nil {
		fd, err = openBeneath(opts.phys(t.path), unix.O_RDONLY|unix.O_DIRECTORY)
		return fd, false, err
	}
	defer t.releaseParent()
	if t.parent.dev == t.expect.Dev {
		fd, err = openat2(t.parent.fd, t.expect.Name(), unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_XDEV)
		if !errors.Is(err, unix.EXDEV) {
			return fd, err == nil, err
		}
		// Something is mounted there since the lstat: open what is.
	}
	fd, err = openIn(t.parent.fd, t.expect.Name(), unix.O_RDONLY|unix.O_DIRECTORY)
	return fd, false, err
}

// bind proves fd, a directory opened from its parent without crossing a
// mount point, to be the inode t's lstat found and its record holds, by its
// file handle: the inode number and the recorded generation (an inode
// number freed since the lstat can be reused at once). One system call
// then stands in for fstat and FS_IOC_GETVERSION: the lstat's size and
// times are taken as the directory's own, and a change since the lstat
// moves them, for the next check to see, as one made just after an fstat
// would. Otherwise out.bound stays false for the caller to fstat, and ok
// says whether the handle named the lstat's inode, whose generation is gen.
func bind(fd int, t *dirTask, out *listing) (gen uint64, ok bool) {
	g, ok := handleGen(fd, "", unix.AT_EMPTY_PATH, t.expect.Inode)
	if !ok {
		return 0, false
	}
	if r := t.cached; r == nil || !r.hasGen || r.gen != g || r.ino != t.expect.Inode || t.expect.Type != merkle.TypeDir {
		return g, true
	}
	out.self = statOf(&t.expect)
	out.gen, out.hasGen, out.bound, out.genRead = g, true, true, true
	return g, true
}

// list reads directory t: its own metadata and, if t.descend, its children.
func (l *lister) list(t *dirTask) *listing {
	out := &listing{}
	if err := l.opts.fault("opendir", t.path); err != nil {
		t.releaseParent()
		out.err = unlisted(pathErr("opendir", t.path, err))
		return out
	}
	fd, nox, err := openDir(l.opts, t)
	if err != nil {
		if gone(err) {
			out.gone = true
		} else {
			out.err = unlisted(pathErr("opendir", t.path, err))
		}
		return out
	}
	// The walk holds one reference while some child is a file job to open
	// in it; each child directory holds one until it is opened.
	dir := &dirFD{fd: fd}
	dir.refs.Store(1)
	keep := false
	defer func() {
		if keep {
			out.dir = dir
		} else {
			dir.release()
		}
	}()
	var g uint64
	ok := false
	if nox && t.cached != nil { // without a record, there is nothing to bind to
		g, ok = bind(fd, t, out)
	}
	if !out.bound {
		if err := unix.Fstat(fd, &out.self); err != nil {
			out.err = unlisted(pathErr("fstat", t.path, err))
			return out
		}
		if ok && out.self.Ino == t.expect.Inode {
			out.gen, out.hasGen, out.genRead = g, true, true // the handle named what is open
		}
	}
	dir.dev = out.self.Dev
	out.err = l.meta(fd, t, out)
	if !t.descend {
		return out
	}
	if err := l.readDir(fd, listEnd(l.fsType(fd, dir.dev), out.self.Size, &l.names)); err != nil {
		out.err = unlisted(errors.Join(out.err, pathErr("readdir", t.path, err)))
		return out
	}
	r := &dirRest{t: t, fd: fd, names: l.names}
	if r.names.mapped() {
		l.names = dirNames{} // a huge directory's: the rest of its listing owns them
	}
	if l.opts.Cache != nil {
		r.rec = &recCursor{cache: l.opts.Cache, dir: t.path}
	}
	out.rest = r
	keep = l.more(out, dir)
	return out
}

// more lists the next chunk of out's directory into out.kids, and reports
// whether the walk must keep dir open for it: some child is a file job, or
// more chunks follow.
func (l *lister) more(out *listing, dir *dirFD) bool {
	r := out.rest
	end := min(r.next+listChunk, r.names.len())
	if out.kids == nil {
		out.kids = make([]child, 0, end-r.next)
	}
	out.kids = out.kids[:0]
	var tasks []*dirTask
	keep := false
	for ; r.next < end; r.next++ {
		c, ok := l.child(r.fd, r.t, r.names.at(r.next), r.rec)
		if !ok {
			continue
		}
		if c.task != nil {
			dir.hold()
			c.task.parent = dir
			tasks = append(tasks, c.task)
		}
		keep = keep || c.job
		out.kids = append(out.kids, c)
	}
	l.sched.push(tasks)
	if r.next < r.names.len() {
		return true
	}
	r.names.free() // a huge directory's, after its last chunk; a no-op for the lister's own
	out.rest = nil
	return keep
}

// fsType returns the filesystem magic number (statfs f_type) of dev,
// asking the open directory fd on it the first time; 0 if it cannot say.
func (l *lister) fsType(fd int, dev uint64) int64 {
	if t, ok := l.fsTypes[dev]; ok {
		return t
	}
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return 0
	}
	if l.fsTypes == nil {
		l.fsTypes = make(map[uint64]int64)
	}
	l.fsTypes[dev] = int64(st.Type) // int32 on 32-bit architectures
	return int64(st.Type)
}

// dropRest frees what is left of a listing the walk did not finish.
func (l *listing) dropRest() {
	if l.rest != nil {
		l.rest.names.free()
		l.rest = nil
	}
}

// meta reads the directory's own inode flags and extended attributes, or
// takes them from its record where the stat cache vouches for them.
//
// Both move a directory's ctime, as they do a file's; a directory deleted
// and made again at the same inode number, its times set back, has a new
// generation. So, as for a file, the record stands only if inode,
// generation, size, mtime and ctime all match; the keyed sample rereads
// its share of the directories whose record would stand (see [lister.child]).
func (l *lister) meta(fd int, t *dirTask, out *listing) error {
	if t.expect.Attrs&(merkle.AttrFlags|merkle.AttrXattrs) == 0 {
		out.gen, out.hasGen = 0, false // recorded only with them, as before the handle gave it
		return nil
	}
	g, ok, err := out.gen, out.hasGen, error(nil)
	if !out.genRead {
		g, ok, err = inodeGen(fd)
		out.gen, out.hasGen = g, ok
	}
	old := t.cached
	// As for a file's hash (cacheHit), a record read in the clock tick of
	// the directory's last change may miss a change made in that tick.
	same := old != nil && err == nil && old.sameDir(&out.self) && old.hasGen == ok && old.gen == g &&
		max(old.mtime, old.ctime) < old.hashedAt-racyWindow
	if same && !t.sampled {
		out.xattrs, out.flags, out.hasFl, out.readAt = old.xattrs, old.flags, old.hasFlags, old.hashedAt
		if l.opts.Stats != nil {
			l.opts.Stats.DirCacheHits.Add(1)
		}
		return nil
	}
	out.readAt = time.Now().UnixNano()
	errs := []error{pathErr("getversion", t.path, err)}
	if t.expect.Attrs.Has(merkle.AttrFlags) {
		f, ok, err := inodeFlags(fd)
		out.flags, out.hasFl = f, ok
		errs = append(errs, pathErr("getflags", t.path, err))
	}
	if t.expect.Attrs.Has(merkle.AttrXattrs) {
		x, err := l.xr.fd(fd)
		out.xattrs = x
		errs = append(errs, pathErr("xattrs", t.path, err))
	}
	if same && out.flags == old.flags && out.hasFl == old.hasFlags && slices.EqualFunc(out.xattrs, old.xattrs, sameXattr) {
		out.readAt = old.hashedAt // confirmed: a reread for the sample costs no database write
	}
	return errors.Join(errs...)
}

func sameXattr(a, b merkle.Xattr) bool { return a.Name == b.Name && string(a.Value) == string(b.Value) }

// dirRecord is what the scan compares of a directory's record before its
// flags and extended attributes are taken from it: no more, as a listing
// holds one per subdirectory until it is listed.
type dirRecord struct {
	ino                uint64
	size, mtime, ctime int64
	gen                uint64
	hashedAt           int64
	flags              uint32
	hasGen, hasFlags   bool
	xattrs             []merkle.Xattr
}

// sameDir reports whether st, the fstat of an opened directory, has the
// inode, size, mtime and ctime of its record r (the device is not
// compared, as [cacheHit] does not: a snapshot's copy has its own).
func (r *dirRecord) sameDir(st *unix.Stat_t) bool {
	return fileType(st.Mode) == merkle.TypeDir && r.ino == st.Ino &&
		r.size == st.Size && r.mtime == st.Mtim.Nano() && r.ctime == st.Ctim.Nano()
}

// dirCached returns what the listing of directory e compares with old, its
// record: nil if there is none, it holds an error, other attributes were
// monitored, or neither flags nor extended attributes are. sampled says
// the keyed sample rereads them however well the record matches.
func (l *lister) dirCached(old, e *merkle.Entry) (r *dirRecord, sampled bool) {
	if old == nil || old.Type != merkle.TypeDir || old.Err != "" || old.Attrs != e.Attrs ||
		e.Attrs&(merkle.AttrFlags|merkle.AttrXattrs) == 0 {
		return nil, false
	}
	return &dirRecord{ino: old.Inode, size: old.Size, mtime: old.Mtime, ctime: old.Ctime, gen: old.Gen,
		hashedAt: old.HashedAt, flags: old.Flags, hasGen: old.HasGen, hasFlags: old.HasFlags, xattrs: old.Xattrs}, l.sample.due(e)
}

// child lstat's name in directory t and decides what is left to do for it.
// rec holds t's recorded children not yet passed (nil without a stat
// cache).
//
// A regular file (by its directory entry type) with nothing recorded to
// compare with is not lstat'ed: it is opened and fstat'ed anyway, and that
// saves a system call per file on a first baseline.
func (l *lister) child(dirfd int, t *dirTask, d dirent, rec *recCursor) (child, bool) {
	path := joinName(t.path, d.name)
	name := path[len(path)-len(d.name):] // no copy of its own
	maybeDir := d.typ == unix.DT_DIR || d.typ == unix.DT_UNKNOWN
	attrs, excluded := l.opts.filter(path, maybeDir)
	if excluded {
		return child{}, false
	}
	var e, old *merkle.Entry
	var recorded merkle.Entry
	if slot := rec.find(name); slot != nil && slot.Type != merkle.TypeDir {
		// The record's memory, which nothing else holds, becomes the entry
		// (one allocation less per file); it is compared from a copy. A
		// directory's entry lives as long as its subtree's walk: it keeps
		// memory of its own, not its siblings' records.
		recorded = *slot
		*slot = merkle.Entry{Path: path, Attrs: attrs}
		e, old = slot, &recorded
	} else {
		e, old = &merkle.Entry{Path: path, Attrs: attrs}, slot
	}
	c := child{e: e}
	err := l.opts.fault("lstat", path)
	if err == nil && d.typ == unix.DT_REG && old == nil && l.opts.Cache == nil {
		e.Type, c.job, c.nostat = merkle.TypeFile, true, true
		c.hash = attrs.Has(merkle.AttrContent)
		return c, true
	}
	var st unix.Stat_t
	var btime int64
	if err == nil {
		btime, err = lstatAt(dirfd, d.name, &st)
	}
	if gone(err) {
		return child{}, false
	}
	if err != nil {
		c.err = unlisted(pathErr("lstat", path, err)) // it may be a directory: what is below is unknown
		return c, true
	}
	live := false
	if l.opts.Source != nil && st.Ino == placeholderIno && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// A nested subvolume, empty in the snapshot: as the live tree has it.
		if ls, lerr := lstatBeneath(path); lerr == nil {
			st, btime, live = ls, 0, true
		}
	}
	if isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR; isDir != maybeDir {
		// Not what the listing said (or it said nothing): ask again.
		if e.Attrs, excluded = l.opts.filter(path, isDir); excluded {
			return child{}, false
		}
	}
	fillStat(e, &st, btime)
	switch e.Type {
	case merkle.TypeDir:
		if t.rootDev == e.Dev || l.opts.CrossFilesystems {
			c.task = &dirTask{path: path, expect: *e, rootDev: t.rootDev, descend: true, idx: -1, done: make(chan struct{})}
		} else {
			c.task = &dirTask{path: path, expect: *e, rootDev: t.rootDev, idx: -1, done: make(chan struct{})}
		}
		c.task.live = live
		c.task.cached, c.task.sampled = l.dirCached(old, e)
	case merkle.TypeFile:
		l.file(&c, old, dirfd)
	case merkle.TypeSymlink:
		if old != nil && sameFile(old, &st) && old.Err == "" {
			e.Target, e.Xattrs = old.Target, old.Xattrs
			break
		}
		e.Target, err = fsys.Readlinkat(dirfd, name)
		c.err = errors.Join(pathErr("readlink", path, err), l.pathXattrs(e, dirfd))
	default:
		if old != nil && sameFile(old, &st) && old.Err == "" {
			e.Xattrs = old.Xattrs
			break
		}
		c.err = l.pathXattrs(e, dirfd)
	}
	return c, true
}

// file decides whether a regular file must be opened, using the stat cache;
// dirfd is the open directory holding it (-1 for a root).
func (l *lister) file(c *child, old *merkle.Entry, dirfd int) {
	e := c.e
	content := e.Attrs.Has(merkle.AttrContent)
	switch {
	case !content:
		e.HashState = merkle.HashNone
	case l.opts.MaxHashSize > 0 && e.Size > l.opts.MaxHashSize:
		e.HashState = merkle.HashSkipped
	default:
		c.hash = true
	}
	if old == nil || !cacheHit(old, e, content) {
		c.job = c.hash || e.Attrs&(merkle.AttrFlags|merkle.AttrXattrs) != 0
		return
	}
	if c.hash && l.sample.due(e) {
		// Reread whole, generation included: no need to look at it first.
		if l.opts.Stats != nil {
			l.opts.Stats.Sampled.Add(1)
		}
		rec := *old // a copy: a pointer into the chunk would keep all of it until the job is done
		c.job, c.sampled = true, &rec
		return
	}
	if sameInode(old, e, dirfd) {
		e.Hash, e.HashState, e.HashedAt = old.Hash, old.HashState, old.HashedAt
		e.Gen, e.HasGen = old.Gen, old.HasGen
		e.Xattrs, e.Flags, e.HasFlags = old.Xattrs, old.Flags, old.HasFlags
		c.hash = false
		if l.opts.Stats != nil {
			l.opts.Stats.CacheHits.Add(1)
		}
		return
	}
	c.job = c.hash || e.Attrs&(merkle.AttrFlags|merkle.AttrXattrs) != 0
}

// racyWindow is how close to the moment of hashing a file's mtime or ctime
// may be before its recorded hash is not trusted: the kernel stamps files
// from a coarse clock, so a write just after the hash can carry a time
// before it.
const racyWindow = int64(1e9)

// cacheHit reports whether the recorded entry old may stand for e without
// reading the file.
func cacheHit(old, e *merkle.Entry, content bool) bool {
	if old.Type != merkle.TypeFile || old.Err != "" || old.Attrs != e.Attrs ||
		old.Inode != e.Inode || old.Size != e.Size ||
		old.Mtime != e.Mtime || old.Ctime != e.Ctime {
		return false
	}
	if !content {
		return true
	}
	if old.HashState != merkle.HashOK && old.HashState != merkle.HashSkipped {
		return false
	}
	if e.HashState == merkle.HashSkipped || old.HashState == merkle.HashSkipped {
		return e.HashState == old.HashState
	}
	return max(old.Mtime, old.Ctime) < old.HashedAt-racyWindow
}

// sameInode reports whether e, lstat'ed at old's place in dirfd with old's
// inode number, size and times, is still old's inode, not the number freed
// and reused by a new file with its times set back. A new inode has a new
// birth time and a new generation: the birth time came with the lstat, so
// where old recorded one, that is compared and the generation is not read
// (a system call per trusted file); else the generation, where recorded.
// Either can only be forged together with the ctime, by setting the clock
// back, which defeats the stat cache anyway (see the README's Limits): the
// birth time is set from the clock at creation, and the generation that
// root may set with FS_IOC_SETVERSION moves the ctime.
func sameInode(old, e *merkle.Entry, dirfd int) bool {
	if old.Btime != 0 {
		return e.Btime == old.Btime
	}
	return sameGen(old, dirfd)
}

// sameGen reports whether the file at old's place in dirfd still has old's
// inode generation, where one was recorded: an inode number freed and
// reused, with its times set back, has a new generation.
func sameGen(old *merkle.Entry, dirfd int) bool {
	if !old.HasGen {
		return true
	}
	if dirfd < 0 {
		return false
	}
	g, ok, err := genAt(dirfd, old.Name(), old.Inode)
	return err == nil && ok && g == old.Gen
}

// cacheChunk is how many recorded entries a recCursor reads at a time.
const cacheChunk = listChunk

// recCursor reads a directory's recorded children in name order, a chunk
// at a time, for a merge-join with its sorted listing.
type recCursor struct {
	cache Cache
	dir   string
	buf   []merkle.Entry // read, not yet passed
	last  string         // the name of the last entry read
	end   bool           // no more to read
}

// find returns the recorded entry of name, passing those before it; nil if
// there is none. Names must come in increasing order. A chunk that cannot
// be read ends the stat cache for the rest of the directory: its files are
// read.
func (r *recCursor) find(name string) *merkle.Entry {
	if r == nil {
		return nil
	}
	for {
		if len(r.buf) == 0 {
			if r.end {
				return nil
			}
			r.fill()
			continue
		}
		switch n := r.buf[0].Name(); {
		case n > name:
			return nil
		case n == name:
			e := &r.buf[0]
			r.buf = r.buf[1:]
			return e
		}
		r.buf = r.buf[1:]
	}
}

func (r *recCursor) fill() {
	buf, err := r.cache.Children(r.dir, r.last, cacheChunk)
	if err != nil || len(buf) == 0 || (r.last != "" && buf[0].Name() <= r.last) {
		r.buf, r.end = nil, true // a cache that does not move on is not used
		return
	}
	r.buf, r.end, r.last = buf, len(buf) < cacheChunk, buf[len(buf)-1].Name()
}

// pathXattrs reads the extended attributes of a symlink or special file,
// which are never opened; dirfd is the open directory holding it, -1 for a
// root.
func (l *lister) pathXattrs(e *merkle.Entry, dirfd int) error {
	if !e.Attrs.Has(merkle.AttrXattrs) {
		return nil
	}
	x, err := l.xr.at(dirfd, e.Name(), l.opts.phys(e.Path))
	e.Xattrs = x
	if gone(err) {
		return nil
	}
	return pathErr("xattrs", e.Path, err)
}

// unlisted marks err as the failure to read a directory's contents.
func unlisted(err error) error { return fmt.Errorf("%w: %w", ErrUnlisted, err) }
