package daemon

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// mountinfo is the mount table the watch follows.
const mountinfo = "/proc/self/mountinfo"

// mountWatch follows the mount table: the kernel flags
// /proc/self/mountinfo with POLLPRI|POLLERR when the mount namespace
// changes after the file was opened (proc(5)). The descriptor is a raw
// one, kept out of Go's netpoller: its epoll would take the flag first.
type mountWatch struct {
	fd  int
	was map[int]mount
}

// openMounts opens the mount table and reads it: changes from now on are
// seen.
func openMounts() (*mountWatch, error) {
	fd, err := unix.Open(mountinfo, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: mountinfo, Err: err}
	}
	w := &mountWatch{fd: fd}
	if w.was, err = w.read(); err != nil {
		return nil, errors.Join(err, unix.Close(fd))
	}
	return w, nil
}

func (w *mountWatch) read() (map[int]mount, error) {
	if _, err := unix.Seek(w.fd, 0, 0); err != nil {
		return nil, &os.PathError{Op: "seek", Path: mountinfo, Err: err}
	}
	var b []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: mountinfo, Err: err}
		}
		if n == 0 {
			return parseMountinfo(b), nil
		}
		b = append(b, buf[:n]...)
	}
}

// run calls changed with each change of the mount table until ctx is
// done, then closes the table.
func (w *mountWatch) run(ctx context.Context, changed func([]mountChange)) (err error) {
	defer func() {
		if cerr := unix.Close(w.fd); cerr != nil {
			err = errors.Join(err, &os.PathError{Op: "close", Path: mountinfo, Err: cerr})
		}
	}()
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLPRI | unix.POLLERR}}
	for ctx.Err() == nil {
		n, err := unix.Poll(fds, 250) // ms: how soon a stop is seen
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "poll", Path: mountinfo, Err: err}
		}
		now, err := w.read()
		if err != nil {
			return err
		}
		if c := diffMounts(w.was, now); len(c) > 0 {
			changed(c)
		}
		w.was = now
	}
	return nil
}
