package store

import (
	"golang.org/x/sys/unix"

	bolt "go.etcd.io/bbolt"
)

// dropMapped tells the kernel that this process is done with the database
// pages it has read so far: bbolt reads through a shared, read-only memory
// map, and every page a long read touches would otherwise count in the
// process's resident memory until exit (250 MB for a check of a million
// files). The pages stay in the page cache; a page touched again is mapped
// again on the fault. It must run inside a transaction, which keeps bbolt
// from remapping the file meanwhile.
func (db *DB) dropMapped(tx *bolt.Tx) {
	info := db.bolt.Info()
	// Advice only: an error means the pages stay resident, nothing worse.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
}

// cacheDropEvery is how many stat cache reads ([StatCache.Children], one
// per directory scanned) may leave pages mapped before they are let go: the
// listers read ahead of the merge's [Iter], and each read maps 64 KiB
// around the pages it touches (5 MiB of the 1,000,000-file check's peak
// without this). Each drop costs the page faults that map the tree's upper
// pages again: every 4 reads, the check of a /usr copy spent 12 % more
// system time than every 8, for the same peak at a million files (31-33
// MiB); every 16 reached 34 MiB.
const cacheDropEvery = 8

// dropMappedEvery is dropMapped once in cacheDropEvery calls.
func (db *DB) dropMappedEvery(tx *bolt.Tx) {
	if db.cacheReads.Add(1)%cacheDropEvery == 0 {
		db.dropMapped(tx)
	}
}
