//go:build !linux

package watch

import "context"

// Inotify is the inotify [Source]; it exists on Linux only.
type Inotify struct{}

// NewInotify returns [ErrUnsupported] on systems other than Linux.
func NewInotify(Options) (*Inotify, error) { return nil, ErrUnsupported }

// Run implements [Source].
func (*Inotify) Run(context.Context, func(Event)) error { return ErrUnsupported }

// Coverage implements [Source].
func (*Inotify) Coverage() Coverage { return Coverage{} }
