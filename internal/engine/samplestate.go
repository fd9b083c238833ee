package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/config"
	"vigil/store"
)

// SampleState is what a whole check keeps of the keyed sample of
// [Options.SampleKey] from one check to the next, in a small file ([SamplePath],
// [WatchSamplePath], or the caller's): the secret key, the number of the
// last check, and when the file was written.
//
// # Design: a sample the state file cannot steer
//
// The key only hides the schedule from whoever cannot read the file; root
// can, and with the key it can tell which files are due at any check
// number. So the number is not the file's to say: with a counter kept in
// the file (or max(file+1, clock), which the file can push ahead), root
// picks, by dry runs on a copy, a number that skips a tampered file, and
// freezes the file there. A whole check's number is instead the sample
// period it runs in, counted by the clock from the Unix epoch: floor(now /
// P), with P the period of the checks ([SamplePeriod]: the daemon's
// watch.scan_interval, one hour by default, as vigil-check.timer's). A check
// in period k reads at least the files due at k (scanner.Sample), whatever
// the file says: checks run once per period use consecutive numbers, so
// every file the stat cache trusts is reread within Config.RereadWithin
// periods in which a check ran; checks run more often read the period's
// sample again. The epoch origin puts the period boundaries on the hour,
// between the runs of an hourly calendar timer, and is nothing that can be
// rewritten, or moved by a new baseline.
//
// The file adds only what is safe to take from it: the last check's
// number, so that a check after periods in which none ran also reads
// those periods' samples (Back; from 2L-1 numbers on, that is every file,
// see scanner.Sample). A file that claims a later check than the true one
// can only spare a check the missed periods' samples, never its own.
//
// What is done to the file is an alert (Result.SampleAlert, [ErrStateMissing]
// and the others), not a warning: missing while the current baseline is
// older than two periods; damaged; changed after vigil wrote it (its mtime,
// which Save sets to the time the file records, or its ctime, which only
// the clock can set back, disagrees: written back, copied over, edited);
// ahead of the clock (the clock set back, or the file forged); immutable or
// append-only; or not writable after the check. A fresh key is made for a
// missing or damaged file. The database keeps no record of checks (a check
// opens it read-only), so the file's own times are the evidence.
//
// Root can still: set the clock (which moves every timestamp on the host);
// write a well-formed file just before a check that claims a check in the
// previous period (which only spares that check the missed periods); stop
// the checks; and, knowing the key, time a change between the periods a
// file is due in, for up to RereadWithin periods. Hence check --full.
//
// The file is written whole to a temporary file, synced and renamed over
// the old one, so that a crash leaves the old state or the new one. It is
// the only thing a check writes: a check opens the database read-only.
//
// Its String and GoString methods leave the key out.
type SampleState struct {
	Key [32]byte
	// Check is the number of the last check that finished: the sample
	// period it ran in (see above).
	Check uint64
	// Written is when the file was written, by the wall clock (not
	// Options.Now): its mtime and ctime must agree. Save sets it.
	Written time.Time
}

// SamplePath returns the sample state file of the database at db.
func SamplePath(db string) string { return db + ".sample" }

func (s SampleState) String() string {
	return "sample state at check " + strconv.FormatUint(s.Check, 10)
}
func (s SampleState) GoString() string { return s.String() }

// NewSampleState returns a state with a fresh random key, before the first
// check.
func NewSampleState() (SampleState, error) {
	var s SampleState
	_, err := rand.Read(s.Key[:])
	return s, err
}

// sampleMagic starts the file; then the key, the check's period, the time
// written (Unix nanoseconds), then a BLAKE3 of everything before it, each
// on its own line. Version 1 (a free counter, no time) is read as damaged.
const sampleMagic = "vigil-sample-state 2\n"

// encode returns the file's content.
func (s SampleState) encode() []byte {
	b := []byte(sampleMagic)
	b = append(b, "key "...)
	b = hex.AppendEncode(b, s.Key[:])
	b = append(b, "\ncheck "...)
	b = strconv.AppendUint(b, s.Check, 10)
	b = append(b, "\nwritten "...)
	b = strconv.AppendInt(b, s.Written.UnixNano(), 10)
	b = append(b, '\n')
	sum := blake3.Sum256(b)
	b = append(b, "sum "...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, '\n')
}

// decodeSample parses a file's content.
func decodeSample(b []byte) (SampleState, error) {
	var s SampleState
	body, sumLine, ok := cutLastLine(b)
	if bytes.HasPrefix(b, []byte("vigil-sample-state 1\n")) {
		return s, errors.New("in the format of vigil before the sample followed the clock (expected once, after an upgrade)")
	}
	if !ok || !bytes.HasPrefix(body, []byte(sampleMagic)) {
		return s, errors.New("not a sample state file")
	}
	want := blake3.Sum256(body)
	if got, ok := bytes.CutPrefix(sumLine, []byte("sum ")); !ok || hex.EncodeToString(want[:]) != string(got) {
		return s, errors.New("checksum mismatch")
	}
	lines := bytes.Split(bytes.TrimSuffix(body[len(sampleMagic):], []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		return s, errors.New("wrong number of lines")
	}
	key, ok := bytes.CutPrefix(lines[0], []byte("key "))
	if n, err := hex.Decode(s.Key[:], key); !ok || err != nil || n != len(s.Key) || len(key) != 2*len(s.Key) {
		return s, errors.New("bad key line")
	}
	check, ok := bytes.CutPrefix(lines[1], []byte("check "))
	n, err := strconv.ParseUint(string(check), 10, 64)
	if !ok || err != nil {
		return s, errors.New("bad check line")
	}
	s.Check = n
	written, ok := bytes.CutPrefix(lines[2], []byte("written "))
	ns, err := strconv.ParseInt(string(written), 10, 64)
	if !ok || err != nil {
		return s, errors.New("bad written line")
	}
	s.Written = time.Unix(0, ns)
	return s, nil
}

// cutLastLine splits b, which must end in a newline, before its last line.
func cutLastLine(b []byte) (body, last []byte, ok bool) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, nil, false
	}
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	if i < 0 {
		return nil, nil, false
	}
	return b[:i+1], b[i+1 : len(b)-1], true
}

// maxStateSize bounds what is read of a state file.
const maxStateSize = 4096

// LoadSampleState reads the state file at path. A file that does not exist
// gives a fresh state (created is true; nothing is written until
// [SampleState.Save]). A file that is not a regular file owned by this user
// or root, with no permission for group or others, fails with
// [ErrStateUnsafe]; one that cannot be decoded fails with
// [ErrStateCorrupt]. Both errors are *fs.PathError naming path.
func LoadSampleState(path string) (s SampleState, created bool, err error) {
	s, _, created, err = loadSample(path)
	return s, created, err
}

// stateFile is what the inode of a state file says.
type stateFile struct {
	mtime, ctime time.Time
	frozen       bool // immutable or append-only
}

func loadSample(path string) (s SampleState, fi stateFile, created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s, err = NewSampleState()
		return s, fi, true, err
	case errors.Is(err, unix.ELOOP):
		return s, fi, false, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: a symbolic link", ErrStateUnsafe)}
	case err != nil:
		return s, fi, false, err
	}
	defer f.Close()
	if fi, err = checkStateFile(f); err != nil {
		return s, fi, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize))
	if err != nil {
		return s, fi, false, err
	}
	if s, err = decodeSample(b); err != nil {
		return s, fi, false, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %w", ErrStateCorrupt, err)}
	}
	return s, fi, false, nil
}

// Save sets s.Written to the time by the wall clock and writes s to path:
// to a new temporary file beside it (mode 0600) whose mtime it sets to
// s.Written, synced, renamed over path, and the directory synced. Two
// saves at once leave one of the two states, whole.
func (s *SampleState) Save(path string) error {
	// A new file of a name of its own (O_EXCL): never one left by a crash
	// or planted, and never another check's that is being written.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	// The file's mtime is set to the time it records: anything else that
	// writes it (cp, a write back) sets another, and its ctime, which only
	// the clock can set back, follows.
	s.Written = time.Now().Truncate(time.Microsecond)
	_, err = f.Write(s.encode())
	if err == nil {
		tv := unix.NsecToTimeval(s.Written.UnixNano())
		err = unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return errors.Join(err, ignoreNotExist(os.Remove(tmp)))
	}
	return syncDir(filepath.Dir(path))
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// DefaultSamplePeriod is the sample period when watch.scan_interval is
// not set: the daemon's scans and vigil-check.timer both run hourly.
const DefaultSamplePeriod = time.Hour

// SamplePeriod returns the length of a sample period under cfg: the
// period of the daemon's scans (watch.scan_interval), which is also the
// period whole checks are meant to run at (see [SampleState]).
func SamplePeriod(cfg *config.Config) time.Duration {
	if cfg != nil && cfg.Watch.ScanInterval > 0 {
		return cfg.Watch.ScanInterval
	}
	return DefaultSamplePeriod
}

// samplePeriodAt returns the number of the sample period t falls in.
func samplePeriodAt(t time.Time, p time.Duration) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano() / int64(p))
}

// Bounds on the ctime of a state file, around the time it records: the
// rename that puts it in place comes after the write (and its sync), and
// a filesystem's coarse clock may lag behind the wall clock.
const (
	stateCtimeBefore = time.Second
	stateCtimeAfter  = 5 * time.Minute
)

// sampleRun is the keyed sample of one whole check or update: the state
// read, this check's number, the missed ones it makes up for, and what is
// wrong with the state file.
type sampleRun struct {
	path  string
	state SampleState
	check uint64 // this check's period
	back  uint64 // periods before it that no check recorded
	alert []error
}

// startSample reads the state file at path for a whole check at now, of a
// baseline created at base, with sample periods of p. It fails only for a
// file that is refused ([ErrStateUnsafe]) or cannot be read; everything
// else wrong with it is an alert, and the check runs.
func startSample(path string, p time.Duration, now time.Time, cur store.Info) (*sampleRun, error) {
	base := cur.Created
	r := &sampleRun{path: path, check: samplePeriodAt(now, p)}
	s, fi, created, err := loadSample(path)
	switch {
	case errors.Is(err, ErrStateCorrupt):
		r.addAlert(err)
		r.state = SampleState{Key: fallbackSampleKey(cur)}
		return r, nil
	case err != nil:
		return nil, err
	case created:
		// A file deleted before every check must not draw a new random
		// key every time (each check would then read an independent
		// random share, and a file could go unread for good): the key of
		// a missing file is the current baseline's own.
		s.Key = fallbackSampleKey(cur)
		r.state = s
		if r.check > samplePeriodAt(base, p)+1 {
			r.addAlert(&fs.PathError{Op: "open", Path: path, Err: fmt.Errorf(
				"%w: the baseline is from %s, %d sample periods of %v ago: deleted, or the first whole check to keep its state here",
				ErrStateMissing, base.UTC().Format(time.RFC3339), r.check-samplePeriodAt(base, p), p)})
		}
		return r, nil
	}
	r.state = s
	if fi.frozen {
		r.addAlert(&fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: immutable or append-only (chattr)", ErrStateFrozen)})
	}
	if !fi.writtenAt(s.Written) {
		r.addAlert(&fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: modified %s, changed %s, but vigil wrote it %s",
			ErrStateReplaced, stamp(fi.mtime), stamp(fi.ctime), stamp(s.Written))})
	}
	switch {
	case s.Check > r.check:
		r.addAlert(&fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: it records a check in sample period %d, the clock says %d",
			ErrStateAhead, s.Check, r.check)})
	case s.Check+1 < r.check:
		r.back = r.check - s.Check - 1
	}
	return r, nil
}

// writtenAt reports whether the file's times are those of a save at t: the
// mtime t itself (to the second on a filesystem that keeps no more), the
// ctime a little after.
func (fi stateFile) writtenAt(t time.Time) bool {
	mtimeOK := fi.mtime.Equal(t) || fi.mtime.Nanosecond() == 0 && fi.mtime.Unix() == t.Unix()
	d := fi.ctime.Sub(t)
	return mtimeOK && d >= -stateCtimeBefore && d <= stateCtimeAfter
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (r *sampleRun) addAlert(err error) { r.alert = append(r.alert, err) }

// finish records the check in the state file, and returns every alert.
func (r *sampleRun) finish() error {
	r.state.Check = r.check
	if err := r.state.Save(r.path); err != nil {
		r.addAlert(fmt.Errorf("%w: %w", ErrStateUnwritten, err)) // err names the file
	}
	return errors.Join(r.alert...)
}

// withSample runs op (a check or an update) with the keyed sample of
// o.SampleFile, if set: see [SampleState].
func withSample(ctx context.Context, db *store.DB, o Options, op func(context.Context, *store.DB, Options) (Result, error)) (Result, error) {
	if o.SampleFile == "" || o.Config == nil || o.Config.RereadWithin <= 0 {
		return op(ctx, db, o)
	}
	cur, err := db.Current()
	if err != nil {
		return op(ctx, db, o) // which reports it
	}
	r, err := startSample(o.SampleFile, SamplePeriod(o.Config), o.now(), cur.Info())
	if err != nil {
		return Result{}, err
	}
	o.SampleKey, o.SampleCheck, o.SampleBack = &r.state.Key, r.check, r.back
	if len(o.Paths) > 0 {
		o.SampleBack = 0
		return op(ctx, db, o) // scoped: records nothing, alerts nothing
	}
	res, err := op(ctx, db, o)
	if err != nil {
		return res, err
	}
	res.SampleAlert = r.finish()
	return res, nil
}

// WatchSamplePath returns the sample state file the watch daemon keeps for
// the database at db: its whole checks are a series of their own.
func WatchSamplePath(db string) string { return db + ".watch.sample" }

// fallbackSampleKey is the sample's key when the state file is missing or
// damaged (itself an alert): derived from the current baseline (its root
// and creation time), so that it stays the same however often the file is
// deleted, and every trusted file is still reread within reread_within
// periods. Root on the host can compute it, as it can read any key; it
// cannot choose it without changing the sealed baseline.
func fallbackSampleKey(in store.Info) [32]byte {
	var k [32]byte
	material := append(in.Root[:], in.Created.UTC().Format(time.RFC3339Nano)...)
	blake3.DeriveKey("vigil 2026-12 keyed sample fallback key", material, k[:])
	return k
}
