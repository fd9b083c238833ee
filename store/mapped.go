package store

import (
	"slices"
	"unsafe"

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

// faultAround is the span of a file mapping the kernel maps on one page
// fault (its fault_around_bytes, 64 KiB by default): reading one record maps
// the aligned window of this size around it.
const faultAround = 64 << 10

// dropBatch is how many windows of read records may stay mapped before
// they are let go together (1 MiB).
const dropBatch = 16

// fullDropEvery is how many reads that let go of their own windows
// ([DB.dropRead]) pass between two drops of the whole map: the pages a read
// touches besides its records' (the tree's upper pages, skipped versions,
// their fault-around windows) are let go only then. With 64 windows and
// every 256 reads, the check of a /usr copy took 7-14 % less CPU than with
// whole drops only (every 8 stat cache reads and after each Iter chunk),
// but the 1,000,000-file check's peak RSS grew by 1.4-3 MiB; 16 and 16 keep
// that peak (39.9 MiB against 39.8, medians of 9) for 2-6 % less CPU on
// /usr (user+sys medians of 7-11 interleaved runs on a shared machine).
const fullDropEvery = 16

// dropRead notes the windows of the map that the records kvs (views into
// tx's pages) lie in, and lets go of the windows noted so far once there
// are dropBatch of them: the pages stay in the page cache, and the tree's
// upper pages, which every read passes, stay mapped. A full drop
// ([DB.dropMapped]) every fullDropEvery calls bounds the rest. Like
// dropMapped it must run inside tx, which keeps bbolt from remapping the
// file meanwhile; a window is kept as an offset into the map, so one noted
// before a remap still falls inside the map, clamped to its size.
//
// It replaces drops of the whole map every 8 stat cache reads and after
// each chunk of an [Iter], each of which made the next reads fault the
// tree's upper pages in again.
func (db *DB) dropRead(tx *bolt.Tx, kvs [][2][]byte) {
	base := db.bolt.Info().Data
	size := uintptr(tx.Size())
	var local [16]uintptr
	wins := local[:0]
	last := ^uintptr(0)
	note := func(p []byte) {
		if len(p) == 0 {
			return
		}
		a := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		if a < base || a-base >= size {
			return // not in the map (a copy, or a write's page)
		}
		for w := a &^ (faultAround - 1); w <= a+uintptr(len(p))-1; w += faultAround {
			off := uintptr(0)
			if w > base {
				off = w - base
			}
			if off != last {
				wins = append(wins, off)
				last = off
			}
		}
	}
	for _, kv := range kvs {
		note(kv[0])
		note(kv[1])
	}
	db.dropMu.Lock()
	db.dropReads++
	full := db.dropReads%fullDropEvery == 0
	db.dropWins = append(db.dropWins, wins...)
	var todo []uintptr
	if full {
		db.dropWins = db.dropWins[:0]
	} else if len(db.dropWins) >= dropBatch {
		todo = slices.Clone(db.dropWins)
		db.dropWins = db.dropWins[:0]
	}
	db.dropMu.Unlock()
	if full {
		db.dropMapped(tx)
		return
	}
	dropWindows(base, size, todo)
}

// dropWindows lets go of the windows at offsets wins into the map at base
// of size bytes, merging adjacent ones into one call.
func dropWindows(base, size uintptr, wins []uintptr) {
	if len(wins) == 0 {
		return
	}
	slices.Sort(wins)
	wins = slices.Compact(wins)
	for i := 0; i < len(wins); {
		start, end := wins[i], wins[i]+faultAround
		for i++; i < len(wins) && wins[i] <= end; i++ {
			end = wins[i] + faultAround
		}
		if start >= size {
			return
		}
		end = min(end, size)
		// Advice only: an error means the pages stay resident, nothing worse.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, base+start, end-start, unix.MADV_DONTNEED)
	}
}
