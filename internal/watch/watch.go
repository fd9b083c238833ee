package watch

import (
	"context"
	"strings"
	"time"
)

// Op says what an [Event] asks the caller to verify. It is a bit set.
type Op uint8

const (
	// Changed: the entry at Path may have changed (or appeared, or gone).
	Changed Op = 1 << iota
	// Tree: everything at and below Path may have changed.
	Tree
	// Lost: events were lost; everything may have changed. Path is empty.
	Lost
	// Ready: the initial watches are in place; changes made before them
	// are not reported and must be caught up by a scan. Path is empty.
	Ready
	// Closed: with [Changed], the file at Path was closed after being
	// opened for writing (fanotify's FAN_CLOSE_WRITE): that writer is
	// done, and the [Settler] hands the path on at once instead of
	// waiting out its window.
	Closed
)

// Has reports whether o includes every bit of x.
func (o Op) Has(x Op) bool { return o&x == x }

func (o Op) String() string {
	var names []string
	for _, n := range []struct {
		op   Op
		name string
	}{{Changed, "changed"}, {Tree, "tree"}, {Lost, "lost"}, {Ready, "ready"}, {Closed, "closed"}} {
		if o.Has(n.op) {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Event is a hint that Path needs verifying. A source that learns who made
// a change ([Fanotify] reports the pid) says so in Process.
type Event struct {
	Path string
	Op   Op
	// Err says why events were lost ([Lost] only).
	Err error
	// First is when the first event for Path came, as the [Settler] hands
	// it on: the start of the write-to-verdict latency.
	First time.Time
	// Process is who made the change, when the source knows (fanotify);
	// nil otherwise.
	Process *Process
}

// Process is the process that made a change, as /proc showed it when the
// event was read. Only PID is certain: the rest is empty when the process
// was gone by then.
type Process struct {
	PID, PPID int
	// Executable is /proc/PID/exe, Name its comm, Args its command line.
	Executable, Name string
	Args             []string
	// UID is the effective user id ("" unknown), User its name.
	UID, User string
}

// Source is an intake of hints: what internal/daemon consumes. [Inotify]
// and [Fanotify] (whole filesystems, and who made each change) are the
// ones on Linux; the scripted sources of tests stand in the same way.
//
// Run watches the roots it was made with until ctx is done (then it
// returns nil) or the source fails, and releases what it holds (watches,
// descriptors) before it returns. It calls emit from one goroutine, and
// emit must not block for long. The first event is [Ready], once the
// initial watches are in place; then [Changed] and [Tree] hints, and
// [Lost] (with Err saying why) whenever events were lost, after which the
// caller catches up with a whole scan. A source is run once.
type Source interface {
	Run(ctx context.Context, emit func(Event)) error
	// Coverage reports what is watched; it is safe to call during Run.
	Coverage() Coverage
}

// Inotify is a Source wherever it builds (on other systems NewInotify
// fails with ErrUnsupported).
var (
	_ Source = (*Inotify)(nil)
	_ Source = (*Fanotify)(nil)
)

// Coverage says how much of the roots a [Source] watches.
type Coverage struct {
	// Intake names the source: "inotify" or "fanotify" ("" for others).
	Intake string `json:"intake,omitempty"`
	// IntakeReason says why an automatic choice ([NewAuto]) is not
	// fanotify.
	IntakeReason string `json:"intake_reason,omitempty"`
	// Filesystems are the mount points fanotify marks whole.
	Filesystems []string `json:"filesystems,omitempty"`
	// Inotify are the subtrees fanotify could not mark (a Btrfs
	// subvolume, a mount refusing it), watched by inotify instead.
	Inotify []Unmarked `json:"inotify,omitempty"`
	// Watched counts the directories with a watch.
	Watched int `json:"watched"`
	// Limit is the per-user watch limit (fs.inotify.max_user_watches),
	// shared with every other process of the user; 0 if unknown.
	Limit int `json:"limit"`
	// Fallback lists the directories whose subtrees could not be watched
	// and are scanned periodically instead.
	Fallback []string `json:"fallback,omitempty"`
	// Excluded counts the excluded directories left unwatched.
	Excluded int `json:"excluded"`
}

// Unmarked is a subtree fanotify could not mark, and why.
type Unmarked struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Options configure a [Source].
type Options struct {
	// Roots are the absolute, clean directories to watch.
	Roots []string
	// Excluded reports whether a path is excluded; an excluded directory
	// gets no watch and nothing below it either. Nil excludes nothing.
	Excluded func(path string) bool
	// FallbackInterval is how often a subtree that could not be watched is
	// reported as a [Tree]; 0 means one minute.
	FallbackInterval time.Duration
	// Buffer is the size of the event buffer between the kernel reader
	// and the consumer; 0 means 65536.
	Buffer int
}

func (o *Options) fallbackInterval() time.Duration {
	if o.FallbackInterval > 0 {
		return o.FallbackInterval
	}
	return time.Minute
}

func (o *Options) excluded(p string) bool { return o.Excluded != nil && o.Excluded(p) }
