package watch

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// fanMask is what each filesystem mark asks for: every change to a
// directory entry, content or attributes, of files and directories.
const fanMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO |
	unix.FAN_MODIFY | unix.FAN_ATTRIB | unix.FAN_CLOSE_WRITE | unix.FAN_ONDIR

// fanInitFlags is the notification group vigil asks for: events with the
// directory's file handle and the entry's name instead of open descriptors
// (FAN_REPORT_DFID_NAME), read without blocking through Go's poller.
const fanInitFlags = unix.FAN_CLASS_NOTIF | unix.FAN_CLOEXEC | unix.FAN_NONBLOCK | unix.FAN_REPORT_DFID_NAME

// dirCacheMax bounds the cache of resolved directory handles.
const dirCacheMax = 8192

// Fanotify is the fanotify [Source]: one mark per filesystem holding the
// roots (FAN_MARK_FILESYSTEM), so no per-directory watches, no watch
// limit, and new directories are covered the moment they exist. Each event
// names the process that caused it. Subtrees that cannot be marked are
// watched by an [Inotify] inside it, reported in [Coverage].
type Fanotify struct {
	opts  Options
	fd    int
	self  int
	pidfd bool // the kernel accepted FAN_REPORT_PIDFD

	marks    []string   // mount points marked (sorted)
	unmarked []Unmarked // subtrees left to inotify
	in       *Inotify   // watches unmarked; nil when there is none

	// mounts holds, per filesystem id, descriptors of the mounts under
	// the roots, to resolve the file handles of events.
	mounts map[[2]int32][]int

	// Used by the reader goroutine only.
	dirs  map[string]string // handle -> directory path
	users map[string]string // uid -> user name
}

// NewFanotify makes a fanotify group and marks the filesystems holding
// o.Roots and the mounts below them. Events queue from then on; Run reads
// them. It fails with an error wrapping [ErrUnsupported] where the kernel
// or the process's privileges (CAP_SYS_ADMIN) do not allow fanotify.
func NewFanotify(o Options) (*Fanotify, error) {
	f := &Fanotify{opts: o, self: os.Getpid(), mounts: map[[2]int32][]int{}, dirs: map[string]string{}, users: map[string]string{}}
	fd, err := unix.FanotifyInit(fanInitFlags|unix.FAN_REPORT_PIDFD, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if errors.Is(err, unix.EINVAL) { // before Linux 5.15: no pidfds
		fd, err = unix.FanotifyInit(fanInitFlags, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	} else {
		f.pidfd = err == nil
	}
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w (%w)", ErrUnsupported, err)
	}
	f.fd = fd
	if err := f.mark(); err != nil {
		f.close()
		return nil, err
	}
	if len(f.unmarked) > 0 {
		uo := o
		uo.Roots = nil
		for _, u := range f.unmarked {
			uo.Roots = append(uo.Roots, u.Path)
		}
		if f.in, err = NewInotify(uo); err != nil {
			f.close()
			return nil, err
		}
	}
	return f, nil
}

// mark marks the filesystem of every root and of every mount below one.
func (f *Fanotify) mark() error {
	targets, err := mountTargets(f.opts.Roots, f.excludedPath)
	if err != nil {
		return err
	}
	marked := map[uint64]bool{}
	for _, t := range targets {
		if slices.ContainsFunc(f.unmarked, func(u Unmarked) bool { return within(t, u.Path) }) {
			continue // inotify watches it with its parent
		}
		var st unix.Stat_t
		var sfs unix.Statfs_t
		if err := unix.Lstat(t, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // gone, or not a directory: the scan says what it is
		}
		if err := unix.Statfs(t, &sfs); err != nil {
			continue
		}
		if !marked[st.Dev] {
			err := unix.FanotifyMark(f.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanMask, unix.AT_FDCWD, t)
			if err != nil {
				f.unmarked = append(f.unmarked, Unmarked{Path: t, Reason: "fanotify_mark: " + err.Error()})
				continue
			}
			marked[st.Dev] = true
			f.marks = append(f.marks, t)
		}
		mfd, err := unix.Open(t, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0) // open_by_handle_at refuses O_PATH
		if err != nil {
			continue // resolved through another mount of it, if any
		}
		id := [2]int32{sfs.Fsid.Val[0], sfs.Fsid.Val[1]}
		f.mounts[id] = append(f.mounts[id], mfd)
	}
	return nil
}

// mountTargets returns the roots and the mount points below them that are
// not excluded, sorted.
func mountTargets(roots []string, excluded func(string) bool) ([]string, error) {
	out := slices.Clone(roots)
	mf, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	sc := bufio.NewScanner(mf)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		for _, r := range roots {
			if mp != r && within(mp, r) && !excluded(mp) {
				out = append(out, mp)
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &os.PathError{Op: "read", Path: "/proc/self/mountinfo", Err: err}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Coverage implements [Source].
func (f *Fanotify) Coverage() Coverage {
	c := Coverage{Intake: "fanotify", Filesystems: slices.Clone(f.marks), Inotify: slices.Clone(f.unmarked)}
	if f.in != nil {
		ic := f.in.Coverage()
		c.Watched, c.Limit, c.Fallback, c.Excluded = ic.Watched, ic.Limit, ic.Fallback, ic.Excluded
	}
	return c
}

// close releases the group and the mount descriptors.
func (f *Fanotify) close() {
	for _, fds := range f.mounts {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	f.mounts = nil
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// Run implements [Source]. It releases the group when it returns.
func (f *Fanotify) Run(ctx context.Context, emit func(Event)) error {
	file := os.NewFile(uintptr(f.fd), "fanotify")
	f.fd = -1 // file owns it now
	defer f.close()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	batches := make(chan []Event, 16)
	readErr := make(chan error, 1)
	wg.Go(func() {
		readErr <- f.read(rctx, file, batches)
	})
	wg.Go(func() {
		<-rctx.Done()
		file.Close() // ends the reader's Read
	})
	var inotify chan Event
	if f.in != nil {
		inotify = make(chan Event, 256)
		wg.Go(func() { f.runInotify(rctx, inotify) })
	}
	// Ready once inotify's watches are in place too (or it failed).
	for waiting := inotify != nil; waiting; {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-inotify:
			waiting = !ev.Op.Has(Ready) && !ev.Op.Has(Lost)
			if !ev.Op.Has(Ready) {
				emit(ev)
			}
		}
	}
	emit(Event{Op: Ready})
	for {
		select {
		case <-ctx.Done():
			return nil
		case evs := <-batches:
			for _, ev := range evs {
				emit(ev)
			}
		case ev := <-inotify:
			if !ev.Op.Has(Ready) {
				emit(ev)
			}
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read fanotify events: %w", err)
		}
	}
}

// runInotify runs the inotify source of the subtrees fanotify could not
// mark, sending its events to out, until ctx is done. Its failure is a
// Lost event: the caller catches up, and the periodic scans cover them.
func (f *Fanotify) runInotify(ctx context.Context, out chan<- Event) {
	send := func(ev Event) {
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	}
	if err := f.in.Run(ctx, send); err != nil {
		send(Event{Op: Lost, Err: err})
	}
}

// read reads and decodes events until the file is closed.
func (f *Fanotify) read(ctx context.Context, file *os.File, out chan<- []Event) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := file.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			return err
		}
		evs := f.decode(buf[:n])
		if len(evs) == 0 {
			continue
		}
		select {
		case out <- evs:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Offsets in struct fanotify_event_metadata and the info records.
const (
	metaLen    = 24
	infoHdrLen = 4
	fidHdrLen  = infoHdrLen + 8 + 8 // header, fsid, handle_bytes and handle_type
)

// rawEvent is one decoded fanotify event.
type rawEvent struct {
	mask   uint64
	fd     int // an open descriptor of the object: never asked for
	pid    int
	pidfd  int
	fsid   [2]int32
	htype  int32
	handle []byte
	name   string
	hasFID bool
}

// decode turns a read's worth of events into hints, and closes the
// descriptors they carry.
func (f *Fanotify) decode(b []byte) []Event {
	var out []Event
	procs := map[int]*Process{} // one /proc read per process per batch
	raws, ok := parseEvents(b)
	// The kernel's word on each process first, before a handle is
	// resolved or /proc read: a one-shot process is reaped within
	// moments, and its parent and user with it (process_linux.go).
	kin := map[int]kernelInfo{}
	for _, r := range raws {
		if _, seen := kin[r.pid]; !seen && r.pidfd >= 0 && r.pid != f.self {
			kin[r.pid] = pidfdInfo(r.pid, r.pidfd)
		}
	}
	for _, r := range raws {
		if r.fd >= 0 {
			unix.Close(r.fd) // not asked for; never used
		}
		ev, keep := f.event(r, procs, kin)
		if r.pidfd >= 0 {
			unix.Close(r.pidfd)
		}
		if keep {
			out = append(out, ev)
		}
	}
	if !ok {
		out = append(out, Event{Op: Lost, Err: ErrFanotifyDecode})
	}
	return out
}

// parseEvents decodes the events in b (struct fanotify_event_metadata and
// its info records); false if it stopped at one it could not decode.
func parseEvents(b []byte) ([]rawEvent, bool) {
	var out []rawEvent
	ne := binary.NativeEndian
	for len(b) >= metaLen {
		evLen, mLen := int(ne.Uint32(b[0:])), int(ne.Uint16(b[6:]))
		if evLen < metaLen || evLen > len(b) || mLen < metaLen || mLen > evLen || b[4] != unix.FANOTIFY_METADATA_VERSION {
			return out, false
		}
		r := rawEvent{mask: ne.Uint64(b[8:]), fd: int(int32(ne.Uint32(b[16:]))), pid: int(int32(ne.Uint32(b[20:]))), pidfd: -1}
		parseInfo(b[mLen:evLen], &r)
		out = append(out, r)
		b = b[evLen:]
	}
	return out, len(b) == 0
}

// parseInfo reads the info records of one event into r.
func parseInfo(info []byte, r *rawEvent) {
	ne := binary.NativeEndian
	for len(info) >= infoHdrLen {
		typ, n := info[0], int(ne.Uint16(info[2:]))
		if n < infoHdrLen || n > len(info) {
			return
		}
		rec := info[:n]
		info = info[n:]
		switch typ {
		case unix.FAN_EVENT_INFO_TYPE_DFID_NAME, unix.FAN_EVENT_INFO_TYPE_DFID, unix.FAN_EVENT_INFO_TYPE_FID:
			if len(rec) < fidHdrLen || r.hasFID {
				continue
			}
			hb := int(ne.Uint32(rec[12:]))
			if fidHdrLen+hb > len(rec) {
				continue
			}
			r.fsid = [2]int32{int32(ne.Uint32(rec[4:])), int32(ne.Uint32(rec[8:]))}
			r.htype = int32(ne.Uint32(rec[16:]))
			r.handle = rec[fidHdrLen : fidHdrLen+hb]
			r.hasFID = true
			if typ == unix.FAN_EVENT_INFO_TYPE_DFID_NAME {
				name := rec[fidHdrLen+hb:]
				if i := slices.Index(name, 0); i >= 0 {
					name = name[:i]
				}
				r.name = string(name)
			}
		case unix.FAN_EVENT_INFO_TYPE_PIDFD:
			if len(rec) >= infoHdrLen+4 {
				r.pidfd = int(int32(ne.Uint32(rec[4:])))
			}
		}
	}
}

// event turns one raw event into a hint; false: nothing to say (vigil's
// own change, a path outside the roots or excluded, a directory gone).
func (f *Fanotify) event(r rawEvent, procs map[int]*Process, kin map[int]kernelInfo) (Event, bool) {
	if r.mask&unix.FAN_Q_OVERFLOW != 0 {
		return Event{Op: Lost, Err: ErrFanotifyOverflow}, true
	}
	if r.pid == f.self || !r.hasFID {
		return Event{}, false
	}
	isDir := r.mask&unix.FAN_ONDIR != 0
	moved := r.mask&(unix.FAN_MOVED_FROM|unix.FAN_MOVED_TO) != 0
	if isDir && moved {
		clear(f.dirs) // the cached paths below it are stale
	}
	dir, ok := f.dirPath(r.fsid, r.htype, r.handle)
	if !ok {
		// The directory is gone: its removal is reported by its parent
		// (FAN_DELETE with FAN_ONDIR), as a Tree taking this in.
		return Event{}, false
	}
	p := dir
	if r.name != "" && r.name != "." {
		p = filepath.Join(dir, r.name)
	}
	if !f.inRoots(p) {
		return Event{}, false
	}
	ev := Event{Path: p, Op: Changed}
	switch {
	case isDir && (moved || r.mask&unix.FAN_DELETE != 0):
		ev.Op = Tree // what was below it moved or went with it
	case r.mask&unix.FAN_CLOSE_WRITE != 0:
		ev.Op |= Closed
	}
	proc, seen := procs[r.pid]
	if !seen {
		proc = f.process(r.pid, r.pidfd, kin[r.pid])
		procs[r.pid] = proc
	}
	ev.Process = proc
	return ev, true
}

// dirPath resolves a directory's file handle to its path, through a
// mount of its filesystem under the roots; false if it is gone.
func (f *Fanotify) dirPath(id [2]int32, htype int32, h []byte) (string, bool) {
	key := fmt.Sprintf("%d:%d:%d:%x", id[0], id[1], htype, h)
	if p, ok := f.dirs[key]; ok {
		return p, true
	}
	fds := f.mounts[id]
	if len(fds) == 0 { // a Btrfs subvolume has an fsid of its own
		for _, m := range f.mounts {
			fds = append(fds, m...)
		}
	}
	var first string
	for _, mfd := range fds {
		p, ok := openHandle(mfd, htype, h)
		if !ok {
			continue
		}
		if first == "" {
			first = p
		}
		if f.inRoots(p) {
			first = p
			break
		}
	}
	if first == "" {
		return "", false
	}
	if len(f.dirs) >= dirCacheMax {
		clear(f.dirs)
	}
	f.dirs[key] = first
	return first, true
}

// openHandle opens a directory handle (O_PATH: nothing is read) and
// returns its path as the kernel names it; false if it no longer exists.
func openHandle(mountFD int, htype int32, h []byte) (string, bool) {
	fd, err := unix.OpenByHandleAt(mountFD, unix.NewFileHandle(htype, h), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !filepath.IsAbs(p) || strings.HasSuffix(p, " (deleted)") {
		return "", false
	}
	return p, true
}

// inRoots reports whether p lies in a root and in no excluded directory.
func (f *Fanotify) inRoots(p string) bool {
	for _, r := range f.opts.Roots {
		if within(p, r) {
			return !f.excludedPath(p)
		}
	}
	return false
}

// excludedPath reports whether p or a directory above it is excluded.
func (f *Fanotify) excludedPath(p string) bool {
	if f.opts.Excluded == nil {
		return false
	}
	for q := p; ; q = filepath.Dir(q) {
		if f.opts.Excluded(q) {
			return true
		}
		if slices.Contains(f.opts.Roots, q) || q == "/" {
			return false
		}
	}
}

// NewAuto returns a fanotify source where the kernel and the process's
// privileges allow one to mark at least one filesystem, and an inotify
// source otherwise; its [Coverage] says why in IntakeReason.
func NewAuto(o Options) (Source, error) {
	f, err := NewFanotify(o)
	if err == nil && len(f.marks) > 0 {
		return f, nil
	}
	reason := "no filesystem could be marked"
	if err != nil {
		reason = err.Error()
	} else {
		if len(f.unmarked) > 0 {
			reason = f.unmarked[0].Reason
		}
		f.close()
	}
	in, err := NewInotify(o)
	if err != nil {
		return nil, err
	}
	return &noted{in, "fanotify: " + reason}, nil
}

// noted is an inotify source that says why it is not fanotify.
type noted struct {
	*Inotify
	reason string
}

func (n *noted) Coverage() Coverage {
	c := n.Inotify.Coverage()
	c.IntakeReason = n.reason
	return c
}
