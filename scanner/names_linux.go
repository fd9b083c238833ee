package scanner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirent is a name in a directory with the type getdents gave for it
// (unix.DT_UNKNOWN where the filesystem gives none). name is a view into
// its [dirNames], valid while they are, and a NUL follows it there, for
// the system calls that take it ([lstatAt]).
type dirent struct {
	name []byte
	typ  uint8
}

// dirNames are the entries of a directory, packed in one buffer (per entry
// its type, its name's length, its name and a NUL: Linux names are at most
// 255 bytes) and indexed in name order: seven bytes more than the name each
// (a million names of 17 bytes: 24 MiB), and no pointer for the garbage
// collector to follow.
//
// Past listChunk entries, both move to anonymous memory maps, outside the
// Go heap: a huge directory's names live as long as its walk, and on the
// heap they would raise the collector's target by twice their size (GOGC
// = 200). Mapped names must be freed.
type dirNames struct {
	buf  []byte
	offs []uint32 // where each entry starts in buf, in name order
	// mbuf and moffs are the whole maps while mapped: buf and offs are
	// their first bytes.
	mbuf, moffs []byte
}

func (n *dirNames) len() int { return len(n.offs) }

func (n *dirNames) name(off uint32) []byte {
	return n.buf[off+2 : off+2+uint32(n.buf[off+1])]
}

// at returns the i'th entry in name order.
func (n *dirNames) at(i int) dirent {
	off := n.offs[i]
	return dirent{name: n.name(off), typ: n.buf[off]}
}

func (n *dirNames) mapped() bool { return n.mbuf != nil }

// reset empties n for the next directory, keeping its heap buffers.
func (n *dirNames) reset() {
	n.buf, n.offs = n.buf[:0], n.offs[:0]
}

// add appends an entry.
func (n *dirNames) add(typ uint8, name []byte) error {
	if uint64(len(n.buf)) > math.MaxUint32-257 {
		return unix.EOVERFLOW // some 16 million names of 255 bytes
	}
	if !n.mapped() && len(n.offs) >= listChunk {
		if err := n.toMaps(); err != nil {
			return err
		}
	}
	if n.mapped() {
		if err := n.room(3+len(name), 4); err != nil {
			return err
		}
	}
	// Within the maps' capacity, append writes in place.
	n.offs = append(n.offs, uint32(len(n.buf)))
	n.buf = append(append(append(n.buf, typ, uint8(len(name))), name...), 0)
	return nil
}

// toMaps moves n into anonymous maps.
func (n *dirNames) toMaps() error {
	mbuf, err := unix.Mmap(-1, 0, max(2*len(n.buf), 1<<20), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	moffs, err := unix.Mmap(-1, 0, max(8*len(n.offs), 1<<20), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return errors.Join(err, unix.Munmap(mbuf))
	}
	buf, offs := n.buf, n.offs
	n.mbuf, n.moffs = mbuf, moffs
	n.buf = append(mbuf[:0], buf...)
	n.offs = append(n.view()[:0], offs...)
	return nil
}

// view returns the offsets' map as a []uint32 of its whole capacity.
func (n *dirNames) view() []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(n.moffs))), len(n.moffs)/4)
}

// room grows the maps, if need be, for dbuf more bytes of names and doffs
// more bytes of offsets.
func (n *dirNames) room(dbuf, doffs int) error {
	if len(n.buf)+dbuf > len(n.mbuf) {
		m, err := unix.Mremap(n.mbuf, 2*len(n.mbuf), unix.MREMAP_MAYMOVE)
		if err != nil {
			return err
		}
		n.mbuf, n.buf = m, m[:len(n.buf)]
	}
	if 4*len(n.offs)+doffs > len(n.moffs) {
		m, err := unix.Mremap(n.moffs, 2*len(n.moffs), unix.MREMAP_MAYMOVE)
		if err != nil {
			return err
		}
		k := len(n.offs)
		n.moffs = m
		n.offs = n.view()[:k]
	}
	return nil
}

// free unmaps mapped names; n is empty afterwards. Heap names are left to
// the collector.
func (n *dirNames) free() {
	if n.mapped() {
		// Only an invalid argument fails: not the maps this made.
		if err := errors.Join(unix.Munmap(n.mbuf), unix.Munmap(n.moffs)); err != nil {
			panic("scanner: unmapping a directory's names: " + err.Error())
		}
	}
	*n = dirNames{}
}

// readDir reads the entries of the directory into l.names, sorted by name.
// end, if not nil, says whether a batch ending with the record whose d_off
// is last (the position after it) completes the listing: the read that
// would return nothing is then not made.
func (l *lister) readDir(fd int, end func(last int64) bool) error {
	l.names.reset()
	for {
		n, err := unix.Getdents(fd, l.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		var last int64
		if err == nil && n > 0 {
			last, err = parseDirents(l.buf[:n], &l.names)
		}
		if err != nil {
			l.names.free()
			return err
		}
		if n <= 0 || (end != nil && end(last)) {
			break
		}
	}
	l.names.sort()
	return nil
}

// Filesystem magic numbers (statfs f_type) whose end of listing is known.
const (
	ext4Magic  = 0xEF53
	btrfsMagic = 0x9123683E
)

// listEnd returns how to tell that a batch of getdents ended the listing
// of a directory of size bytes on the filesystem of magic fsType, or nil
// where nothing proves it, and every directory is read until a read returns
// nothing: getdents also stops short of a full buffer when a signal is
// pending, so a short batch proves nothing by itself.
//
// ext4 (fs/ext4/dir.c) leaves the position at EXT4_HTREE_EOF_64BIT after
// the last entry of a hashed directory (every directory with dir_index, the
// default, but one that fell back to a linear read), and no hash position
// equals it (ext4fs_dirhash never yields that major hash). btrfs
// (btrfs_real_readdir) leaves it at INT_MAX, or LLONG_MAX past 2^31
// directory indexes, which an entry could hold only after as many
// creations in the directory: there the names read must also add up to the
// directory's size (btrfs counts twice each name's length).
func listEnd(fsType int64, size int64, names *dirNames) func(last int64) bool {
	switch fsType {
	case ext4Magic:
		return func(last int64) bool { return last == math.MaxInt64 }
	case btrfsMagic:
		return func(last int64) bool {
			return (last == math.MaxInt32 || last == math.MaxInt64) && 2*names.nameBytes() == size
		}
	}
	return nil
}

// nameBytes returns the length of all the names together.
func (n *dirNames) nameBytes() int64 { return int64(len(n.buf) - 3*len(n.offs)) }

// sort puts the entries in name order.
func (n *dirNames) sort() {
	slices.SortFunc(n.offs, func(a, b uint32) int { return bytes.Compare(n.name(a), n.name(b)) })
}

// parseDirents appends the entries of a getdents64 buffer (struct
// linux_dirent64: ino u64, off s64, reclen u16, type u8, name NUL-ended),
// without "." and "..", and returns the last record's d_off.
func parseDirents(b []byte, out *dirNames) (last int64, err error) {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		last = int64(binary.NativeEndian.Uint64(b[8:16]))
		name := b[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) != "." && string(name) != ".." && len(name) <= 255 {
			if err := out.add(b[18], name); err != nil {
				return last, err
			}
		}
		b = b[reclen:]
	}
	return last, nil
}
