package store

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// The outbox's reserve is a file beside it (its path with ".reserve"
// appended) holding disk space for the day the filesystem fills up:
// [Outbox.ReleaseReserve] deletes it, and the outbox has room again for
// the events a sink that is down must keep. [Outbox.Reserve] makes it
// (again) once there is space.

// DefaultOutboxReserve is the size of the outbox's reserve file: a few
// thousand events for each of a few sinks.
const DefaultOutboxReserve = 8 << 20

// ReservePath is the outbox's reserve file.
func (o *Outbox) ReservePath() string { return o.bolt.Path() + ".reserve" }

// Reserve makes the reserve file size bytes long (0 means
// [DefaultOutboxReserve]), writing and syncing every block so that the
// space is really held (a sparse file would hold none). A file of that
// size already there is kept. It fails, leaving no partial file, when the
// filesystem has not that much room.
func (o *Outbox) Reserve(size int64) error {
	if size <= 0 {
		size = DefaultOutboxReserve
	}
	path := o.ReservePath()
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err = os.Remove(tmp); err == nil {
			f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		}
	}
	if err != nil {
		return err
	}
	err = fill(f, size)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

func fill(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// ReleaseReserve deletes the reserve file, giving its space to the
// outbox; it reports whether there was one.
func (o *Outbox) ReleaseReserve() (bool, error) {
	err := os.Remove(o.ReservePath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
