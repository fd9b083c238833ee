package watch

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxUserWatches is where Linux keeps the per-user watch limit.
const maxUserWatches = "/proc/sys/fs/inotify/max_user_watches"

// Inotify is the inotify [Source], on fsnotify.
type Inotify struct {
	opts Options
	w    *fsnotify.Watcher

	mu       sync.Mutex
	dirs     map[string]uint64 // watched directory -> inode
	fallback []string          // sorted
	excluded int
	limit    int

	// moved maps a directory moved away (renamed) to its new path and
	// inode, so that the watch fsnotify drops on the IN_MOVE_SELF that
	// follows the move can be put back.
	moved map[string]string
	gone  map[uint64]string // inode of a directory just moved away -> old path
}

// NewInotify returns an inotify source for o.Roots. Nothing is watched
// before Run.
func NewInotify(o Options) (*Inotify, error) {
	size := o.Buffer
	if size <= 0 {
		size = 65536
	}
	w, err := fsnotify.NewBufferedWatcher(uint(size))
	if err != nil {
		return nil, err
	}
	in := &Inotify{opts: o, w: w, dirs: map[string]uint64{}, moved: map[string]string{}, gone: map[uint64]string{}}
	if b, err := os.ReadFile(maxUserWatches); err == nil {
		in.limit, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return in, nil
}

// Coverage implements [Source].
func (in *Inotify) Coverage() Coverage {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Coverage{Intake: "inotify", Watched: len(in.dirs), Limit: in.limit, Fallback: slices.Clone(in.fallback), Excluded: in.excluded}
}

// Run implements [Source]. It closes the watcher when it returns.
func (in *Inotify) Run(ctx context.Context, emit func(Event)) error {
	defer in.w.Close()
	for _, r := range in.opts.Roots {
		in.addTree(r, nil)
	}
	emit(Event{Op: Ready})
	tick := time.NewTicker(in.opts.fallbackInterval())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-in.w.Events:
			if !ok {
				return nil
			}
			in.handle(ev, emit)
		case err, ok := <-in.w.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				err = ErrOverflow
			}
			emit(Event{Op: Lost, Err: err})
		case <-tick.C:
			for _, d := range in.Coverage().Fallback {
				emit(Event{Path: d, Op: Tree})
			}
		}
	}
}

// handle turns one fsnotify event into hints, re-keying watches on the way.
func (in *Inotify) handle(ev fsnotify.Event, emit func(Event)) {
	p := filepath.Clean(ev.Name)
	if in.opts.excluded(p) {
		return
	}
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		if to, ok := in.moved[p]; ok {
			// The IN_MOVE_SELF after a move: fsnotify dropped the watch of
			// the moved inode, which may be the one just added under the
			// new name if that raced ahead. Adding it again is a no-op
			// otherwise; what was created meanwhile is verified with it.
			delete(in.moved, p)
			if _, still := in.watched(to); still {
				if err := in.w.Add(to); err != nil {
					in.dropTree(to)
				}
				emit(Event{Path: to, Op: Tree})
			}
			return
		}
		if ino, ok := in.watched(p); ok {
			in.dropTree(p)
			if ev.Has(fsnotify.Rename) {
				in.gone[ino] = p
			}
			emit(Event{Path: p, Op: Tree})
			return
		}
		maps.DeleteFunc(in.gone, func(_ uint64, old string) bool { return old == p })
		emit(Event{Path: p, Op: Changed})
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			emit(Event{Path: p, Op: Changed})
			return
		}
		ino := inode(fi)
		if old, ok := in.gone[ino]; ok {
			delete(in.gone, ino)
			in.moved[old] = p
		}
		in.addTree(p, emit)
		emit(Event{Path: p, Op: Tree})
	default:
		emit(Event{Path: p, Op: Changed})
	}
}

// watched returns the inode of p if p is a watched directory.
func (in *Inotify) watched(p string) (uint64, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ino, ok := in.dirs[p]
	return ino, ok
}

// addTree watches dir and every directory below it that is not excluded:
// each directory is watched before it is listed, so nothing created in it
// afterwards goes unseen. A directory that cannot be watched for lack of
// watches becomes a fallback subtree. emit, if set, is told of fallbacks.
func (in *Inotify) addTree(dir string, emit func(Event)) {
	todo := []string{dir}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if in.opts.excluded(d) {
			in.mu.Lock()
			in.excluded++
			in.mu.Unlock()
			continue
		}
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() {
			continue // gone, or not a directory: the scan says what it is
		}
		if err := in.w.Add(d); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				in.addFallback(d)
				if emit != nil {
					emit(Event{Path: d, Op: Tree})
				}
			}
			continue // vanished or unreadable: the verification reports it
		}
		in.mu.Lock()
		in.dirs[d] = inode(fi)
		in.mu.Unlock()
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type()&fs.ModeType == fs.ModeDir {
				todo = append(todo, filepath.Join(d, e.Name()))
			}
		}
	}
}

func (in *Inotify) addFallback(d string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, f := range in.fallback {
		if within(d, f) {
			return
		}
	}
	in.fallback = slices.DeleteFunc(in.fallback, func(f string) bool { return within(f, d) })
	i, _ := slices.BinarySearch(in.fallback, d)
	in.fallback = slices.Insert(in.fallback, i, d)
}

// dropTree forgets the watches of dir and everything below it (the kernel
// drops those of deleted directories by itself) and its fallbacks.
func (in *Inotify) dropTree(dir string) {
	in.mu.Lock()
	var drop []string
	for d := range in.dirs {
		if within(d, dir) {
			drop = append(drop, d)
			delete(in.dirs, d)
		}
	}
	in.fallback = slices.DeleteFunc(in.fallback, func(f string) bool { return within(f, dir) })
	in.mu.Unlock()
	for _, d := range drop {
		// ErrNonExistentWatch: the kernel dropped it with the directory.
		// Any other failure leaves a watch whose events name a path no
		// longer there: hints about nothing, verified and found absent.
		if err := in.w.Remove(d); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
			continue
		}
	}
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/'
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
