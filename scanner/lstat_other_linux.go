//go:build linux && !amd64 && !arm64

package scanner

import "golang.org/x/sys/unix"

// lstatAt is fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW); see the amd64
// and arm64 version, which passes name without a copy.
func lstatAt(dirfd int, _ []byte, str string, st *unix.Stat_t) error {
	return unix.Fstatat(dirfd, str, st, unix.AT_SYMLINK_NOFOLLOW)
}
