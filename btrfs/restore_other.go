//go:build !linux

package btrfs

// Restore needs Linux: see [ErrUnsupported].
func Restore(snap, live, rel string, o RestoreOptions) (Restored, error) {
	return Restored{}, ErrUnsupported
}

// FinishDir needs Linux: see [ErrUnsupported].
func FinishDir(snap, live, rel string) error { return ErrUnsupported }

// Quarantine needs Linux: see [ErrUnsupported].
func Quarantine(live, rel string, o RestoreOptions) (string, error) { return "", ErrUnsupported }

// ReadDirNames needs Linux: see [ErrUnsupported].
func ReadDirNames(live, rel string) ([]string, error) { return nil, ErrUnsupported }

// DeviceStats needs Linux: see [ErrUnsupported].
func DeviceStats(fd int) ([]DevStats, error) { return nil, ErrUnsupported }
