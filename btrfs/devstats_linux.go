//go:build linux

package btrfs

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

var (
	iocDevInfo     = ioc(iocRead|iocWrite, 30, 4096)
	iocFSInfo      = ioc(iocRead, 31, 1024)
	iocGetDevStats = ioc(iocRead|iocWrite, 52, 1032)
)

// DeviceStats returns the error counters of every device of the Btrfs
// filesystem holding the directory fd. It needs no privilege.
func DeviceStats(fd int) ([]DevStats, error) {
	var fi [1024]byte
	if err := ioctl(fd, iocFSInfo, unsafe.Pointer(&fi[0])); err != nil {
		return nil, fmt.Errorf("FS_INFO: %w", err)
	}
	le := binary.LittleEndian
	maxID := le.Uint64(fi[0:])
	var fsid UUID
	copy(fsid[:], fi[16:32])
	var out []DevStats
	for id := uint64(0); id <= maxID; id++ {
		var di [4096]byte // struct btrfs_ioctl_dev_info_args
		le.PutUint64(di[0:], id)
		err := ioctl(fd, iocDevInfo, unsafe.Pointer(&di[0]))
		if err == unix.ENODEV {
			continue // no device of that number (removed, or never)
		}
		if err != nil {
			return nil, fmt.Errorf("DEV_INFO (device %d): %w", id, err)
		}
		d, err := getDevStats(fd, id)
		if err != nil {
			return nil, err
		}
		d.FSID, d.Path = fsid.String(), cString(di[3072:])
		out = append(out, d)
	}
	return out, nil
}

// getDevStats reads device id's counters without resetting them.
func getDevStats(fd int, id uint64) (DevStats, error) {
	var b [1032]byte // struct btrfs_ioctl_get_dev_stats
	le := binary.LittleEndian
	le.PutUint64(b[0:], id)
	le.PutUint64(b[8:], 5) // nr_items: BTRFS_DEV_STAT_VALUES_MAX
	if err := ioctl(fd, iocGetDevStats, unsafe.Pointer(&b[0])); err != nil {
		return DevStats{}, fmt.Errorf("GET_DEV_STATS (device %d): %w", id, err)
	}
	return ParseDevStats(id, b[:])
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
