//go:build linux

package btrfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Trust checks that the snapshot at r.Path is still the one recorded: its
// top directory, read-only, with the recorded UUID and transids, owned by
// root in a directory only root can write, and with nothing changed in it
// since it was made (a search since its otransid finds no inode). Its owner
// or root could clear the read-only flag, change it and set the flag
// again: the ctransid and the search catch that. It needs CAP_SYS_ADMIN for
// the search.
func Trust(r Recorded) error {
	fd, err := OpenDir(r.Path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	defer unix.Close(fd)
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s", r.Path, ErrUntrusted, fmt.Sprintf(format, a...))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("fstat: %v", err)
	}
	if st.Ino != FirstFreeObjectID {
		return fail("not a subvolume's top directory (inode %d)", st.Ino)
	}
	if st.Uid != 0 {
		return fail("owned by uid %d, not root", st.Uid)
	}
	i, err := GetSubvolInfo(fd)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case !i.ReadOnly():
		return fail("not read-only")
	case i.UUID.String() != r.UUID:
		return fail("uuid %s, recorded %s", i.UUID, r.UUID)
	case i.OTransid != r.OTransid:
		return fail("otransid %d, recorded %d", i.OTransid, r.OTransid)
	case i.CTransid != r.CTransid:
		return fail("ctransid %d, recorded %d: changed since it was taken", i.CTransid, r.CTransid)
	}
	ro, err := ReadOnly(fd)
	if err != nil {
		return fail("%v", err)
	}
	if !ro {
		return fail("not read-only")
	}
	n := 0
	err = ChangedInodes(fd, 0, r.OTransid, func(in Inode) error {
		n++
		return errors.New("stop")
	})
	if n > 0 {
		return fail("inodes changed since it was taken")
	}
	if err != nil {
		return fail("%v", err)
	}
	return nil
}
