package fsys

import "sync"

// Op names a kind of call an [Injector] can fail.
type Op string

// The operations an [FS] offers to its Injector.
const (
	Open     Op = "open"     // openat2, openat; mkdirat, symlinkat, mknodat (they make the inode)
	Read     Op = "read"     // pread
	Write    Op = "write"    // pwrite, copy_file_range
	Fsync    Op = "fsync"    // fsync of a file or a directory
	Rename   Op = "rename"   // renameat2
	Setxattr Op = "setxattr" // setxattr and removexattr
	Setattr  Op = "setattr"  // chown, chmod, utimensat
	Ioctl    Op = "ioctl"    // FICLONE, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS
)

// An Injector is offered every call an [FS] makes, before it is made: a
// non-nil error fails the call with it (the call is not made), nil lets
// it run. path names what the call is about, as the caller names it.
type Injector interface {
	Inject(op Op, path string) error
}

// Call is one call an [Injector] was offered.
type Call struct {
	Op   Op
	Path string
}

// Fail is an [Injector] for tests: it fails the calls that match Op and
// Path (the Nth of them, or all) with Err, and records every call it is
// offered. Its zero value fails nothing. It is safe for concurrent use.
type Fail struct {
	Op   Op     // "" matches every operation
	Path string // "" matches every path
	Nth  int    // fail only the Nth matching call, from 1; 0: every one
	Err  error  // what the failed call returns, an errno such as unix.EIO

	mu      sync.Mutex
	matched int
	calls   []Call
	failed  []Call
}

// Inject implements [Injector].
func (f *Fail) Inject(op Op, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{op, path})
	if f.Err == nil || (f.Op != "" && f.Op != op) || (f.Path != "" && f.Path != path) {
		return nil
	}
	f.matched++
	if f.Nth != 0 && f.matched != f.Nth {
		return nil
	}
	f.failed = append(f.failed, Call{op, path})
	return f.Err
}

// Calls returns the calls offered so far, in order.
func (f *Fail) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Failed returns the calls failed so far, in order.
func (f *Fail) Failed() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.failed...)
}

// FS makes system calls on open descriptors, never following a symbolic
// link, each first offered to Faults. The zero value makes the real calls.
type FS struct {
	Faults Injector
}

func (fs FS) inject(op Op, path string) error {
	if fs.Faults == nil {
		return nil
	}
	return fs.Faults.Inject(op, path)
}
