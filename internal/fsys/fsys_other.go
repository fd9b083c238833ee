//go:build !linux

package fsys

// Openat2 needs Linux: see [ErrUnsupported].
func Openat2(dirfd int, p string, flags int, resolve uint64) (int, error) {
	return -1, ErrUnsupported
}

// Readlinkat needs Linux here: see [ErrUnsupported].
func Readlinkat(dirfd int, name string) (string, error) { return "", ErrUnsupported }
