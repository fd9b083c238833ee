//go:build linux && !amd64 && !arm64

package scanner

import "golang.org/x/sys/unix"

// lstatAt is lstat of name in dirfd with the birth time; see the amd64 and
// arm64 version, which passes name without a copy.
func lstatAt(dirfd int, _ []byte, str string, st *unix.Stat_t) (int64, error) {
	return statxAt(dirfd, str, unix.AT_SYMLINK_NOFOLLOW, st)
}
