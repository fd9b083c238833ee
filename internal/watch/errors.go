package watch

import "errors"

// ErrUnsupported is returned (or wrapped) by [NewInotify] and [NewFanotify]
// where the kernel or the privileges do not allow them.
var ErrUnsupported = errors.New("watch: not supported on this system")

// ErrOverflow is the error of a [Lost] event when the kernel's queue of
// events overflowed (fs.inotify.max_queued_events).
var ErrOverflow = errors.New("watch: inotify queue overflowed")

// ErrFanotifyOverflow is the error of a [Lost] event when the fanotify
// group's queue overflowed (fs.fanotify.max_queued_events).
var ErrFanotifyOverflow = errors.New("watch: fanotify queue overflowed")

// ErrFanotifyDecode is the error of a [Lost] event when a fanotify event
// could not be decoded (a metadata version vigil does not know).
var ErrFanotifyDecode = errors.New("watch: fanotify event not understood")
