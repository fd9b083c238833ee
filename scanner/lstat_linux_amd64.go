package scanner

import "golang.org/x/sys/unix"

// sysFstatat is fstatat's number, whose struct stat is unix.Stat_t.
const sysFstatat = unix.SYS_NEWFSTATAT
