package nix

import "errors"

// ErrUnsupportedType is returned for a file a NAR cannot hold (a FIFO, a
// socket, a device): it is never opened, and a store path holding one is not
// what Nix registered.
var ErrUnsupportedType = errors.New("file type a NAR cannot hold")

// ErrNotStorePath is returned for a path that is not a direct child of the
// store directory, or whose name is not a Nix store path name.
var ErrNotStorePath = errors.New("not a store path")

// ErrBadHash is returned for a hash string of the Nix database or of a
// narinfo that is not "sha256:" followed by hex or Nix base32.
var ErrBadHash = errors.New("malformed hash")

// ErrUnsupported is returned on a system without the calls the serializer
// needs (openat with O_NOFOLLOW): everything but unix.
var ErrUnsupported = errors.New("needs a unix system")
