package fsys

import "errors"

// ErrUnsupported is what the calls return on a system other than Linux:
// they need openat2 and Linux's ioctls.
var ErrUnsupported = errors.New("needs Linux")
