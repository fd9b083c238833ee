//go:build !linux

package watch

import "context"

// Fanotify is the fanotify [Source]; it exists on Linux only.
type Fanotify struct{}

// NewFanotify returns [ErrUnsupported] on systems other than Linux.
func NewFanotify(Options) (*Fanotify, error) { return nil, ErrUnsupported }

// Run implements [Source].
func (*Fanotify) Run(context.Context, func(Event)) error { return ErrUnsupported }

// Coverage implements [Source].
func (*Fanotify) Coverage() Coverage { return Coverage{} }

// NewAuto returns an inotify source (which fails with [ErrUnsupported]
// on systems other than Linux).
func NewAuto(o Options) (Source, error) {
	in, err := NewInotify(o)
	if err != nil {
		return nil, err
	}
	return in, nil
}
