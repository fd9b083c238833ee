package engine

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// checkStateFile checks that the open state file is a regular file owned by
// this user or root that nobody else may read or write, and returns its
// ctime and whether it is immutable or append-only.
func checkStateFile(f *os.File) (stateFile, error) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &st); err != nil {
		return stateFile{}, err
	}
	fi := stateFile{
		mtime:  time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec)),
		ctime:  time.Unix(st.Ctime.Sec, int64(st.Ctime.Nsec)),
		frozen: st.Attributes&(unix.STATX_ATTR_IMMUTABLE|unix.STATX_ATTR_APPEND) != 0,
	}
	switch euid := os.Geteuid(); {
	case uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG:
		return fi, fmt.Errorf("%w: not a regular file", ErrStateUnsafe)
	case st.Uid != uint32(euid) && st.Uid != 0:
		return fi, fmt.Errorf("%w: owned by uid %d, not by uid %d or root", ErrStateUnsafe, st.Uid, euid)
	case st.Mode&0o077 != 0:
		return fi, fmt.Errorf("%w: mode %04o lets others read or write it (want 0600)", ErrStateUnsafe, st.Mode&0o7777)
	}
	return fi, nil
}
