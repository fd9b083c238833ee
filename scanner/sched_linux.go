package scanner

import (
	"container/heap"
	"sync"

	"vigil/merkle"
)

// A dirTask is a directory to list. Listers take pending tasks in walk order
// (the smallest path first), so they run ahead of the walk exactly where the
// walk goes next.
type dirTask struct {
	path    string
	expect  merkle.Entry // the lstat'ed entry: identity to check, attrs to read
	rootDev uint64
	descend bool   // list children (false: only the directory's own metadata)
	parent  *dirFD // the open parent, held until t is opened; nil for a root
	// live says t is opened at its own path, not in its parent: a nested
	// subvolume seen through a snapshot's placeholder (Options.Source).
	live bool
	// cached is the directory's record where its stat cache may be used:
	// its inode flags and extended attributes are taken from it if the
	// opened directory still has its inode, generation, size, mtime and
	// ctime, unless sampled says the keyed sample rereads them. nil to
	// read them.
	cached  *dirRecord
	sampled bool

	idx    int // position in the heap, -1 when not in it
	state  uint8
	token  bool // counts against the prefetch limits until consumed
	done   chan struct{}
	result *listing
}

const (
	taskPending uint8 = iota
	taskRunning
)

type taskHeap []*dirTask

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return merkle.ComparePaths(h[i].path, h[j].path) < 0 }
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *taskHeap) Push(x any) {
	t := x.(*dirTask)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// sched hands pending directory tasks to listers. Listers stop while the
// listings done ahead of the walk (and not consumed yet) reach maxAhead
// directories or maxEntries entries, which bounds both open directories and
// memory.
type sched struct {
	mu      sync.Mutex
	cond    sync.Cond
	heap    taskHeap
	ahead   int // listings running or done, not consumed
	entries int // entries in listings done, not consumed
	closed  bool
	live    map[*dirTask]bool // listed, holding an open directory, not yet consumed
}

// Prefetch limits: enough to keep listers busy while the walk waits on a
// large file or directory; see BenchmarkScanWorkers. Every entry ahead is
// live heap (about 300 bytes with its path), which the collector's target
// doubles: 64 directories and 8,192 entries put 1 MiB more on the
// 1,000,000-file check's peak RSS than these, for no measurable speed
// (BenchmarkScan/hash and /cached within the noise of a loaded machine).
const (
	maxAhead   = 32
	maxEntries = 4096
)

func newSched() *sched {
	s := &sched{live: map[*dirTask]bool{}}
	s.cond.L = &s.mu
	return s
}

func (s *sched) push(ts []*dirTask) {
	if len(ts) == 0 {
		return
	}
	s.mu.Lock()
	for _, t := range ts {
		heap.Push(&s.heap, t)
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// next blocks until a task and a token are free, and returns the task; nil
// once closed.
func (s *sched) next() *dirTask {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && (s.ahead >= maxAhead || s.entries >= maxEntries || len(s.heap) == 0) {
		s.cond.Wait()
	}
	if s.closed {
		return nil
	}
	t := heap.Pop(&s.heap).(*dirTask)
	t.state = taskRunning
	t.token = true
	s.ahead++
	return t
}

// claim takes t away from the listers if none has started it.
func (s *sched) claim(t *dirTask) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.state != taskPending {
		return false
	}
	if t.idx >= 0 {
		heap.Remove(&s.heap, t.idx)
	}
	t.state = taskRunning
	return true
}

// produced publishes a lister's listing of t.
func (s *sched) produced(t *dirTask, l *listing) {
	t.result = l
	s.mu.Lock()
	s.entries += len(l.kids)
	if l.dir != nil {
		s.live[t] = true
	}
	s.mu.Unlock()
	close(t.done)
}

// consumed gives back the token of a listing the walk has taken.
func (s *sched) consumed(t *dirTask) {
	s.mu.Lock()
	delete(s.live, t)
	if t.token {
		s.ahead--
		s.entries -= len(t.result.kids)
	}
	s.mu.Unlock()
	s.cond.Signal()
}

// closeLive closes the directories of listings the walk never took, and
// releases the parents of tasks never listed (after an early end). No
// goroutine may use the scheduler any more.
func (s *sched) closeLive() {
	for t := range s.live {
		t.result.dropRest()
		t.result.dir.release()
	}
	clear(s.live)
	for _, t := range s.heap {
		t.releaseParent()
	}
	s.heap = nil
}

// releaseParent lets go of t's parent directory, once.
func (t *dirTask) releaseParent() {
	if t.parent != nil {
		t.parent.release()
		t.parent = nil
	}
}

func (s *sched) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
}
