package store

// DevStats is what a baseline records of one Btrfs device's error
// counters (BTRFS_IOC_GET_DEV_STATS) when it was taken: a later increase
// is an integrity finding of check's.
type DevStats struct {
	// FSID is the filesystem's UUID and DevID the device's number in it:
	// together they name the device. Device is the node the kernel named
	// (for people; it can change across reboots).
	FSID   string `json:"fsid"`
	DevID  uint64 `json:"devid"`
	Device string `json:"device,omitempty"`
	// The counters, as btrfs device stats names them.
	WriteErrs      uint64 `json:"write_errs"`
	ReadErrs       uint64 `json:"read_errs"`
	FlushErrs      uint64 `json:"flush_errs"`
	CorruptionErrs uint64 `json:"corruption_errs"`
	GenerationErrs uint64 `json:"generation_errs"`
}
