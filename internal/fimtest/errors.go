package fimtest

import "errors"

// ErrUnsupported is what the helpers that need Linux (character devices,
// sockets, inode flags) fail with elsewhere.
var ErrUnsupported = errors.New("needs Linux")
