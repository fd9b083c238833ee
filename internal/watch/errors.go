package watch

import "errors"

// ErrUnsupported is returned by [NewInotify] where inotify is not available.
var ErrUnsupported = errors.New("watch: inotify is not supported on this system")

// ErrOverflow is the error of a [Lost] event when the kernel's queue of
// events overflowed (fs.inotify.max_queued_events).
var ErrOverflow = errors.New("watch: inotify queue overflowed")
