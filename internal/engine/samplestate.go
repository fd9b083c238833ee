package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// SampleState makes the keyed sample of [Options.SampleKey] a guarantee
// rather than a chance: the sample's secret key and the number of the last
// check that finished, kept from one check to the next in a small file
// beside the database ([SamplePath]). Successive whole checks (and updates)
// count up by one, so that each file the stat cache trusts is read again at
// least once in any Config.RereadWithin of them (see scanner.Sample).
//
// The file is written whole to a temporary file, synced and renamed over
// the old one, so that a crash leaves the old state or the new one. It is
// the only thing a check writes: a check opens the database read-only.
//
// Its String and GoString methods leave the key out.
type SampleState struct {
	Key [32]byte
	// Check is the number of the last check that finished; the next one
	// is Check+1.
	Check uint64
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

// sampleMagic starts the file; then the key and the check counter, then a
// BLAKE3 of everything before it, each on its own line.
const sampleMagic = "vigil-sample-state 1\n"

// encode returns the file's content.
func (s SampleState) encode() []byte {
	b := []byte(sampleMagic)
	b = append(b, "key "...)
	b = hex.AppendEncode(b, s.Key[:])
	b = append(b, "\ncheck "...)
	b = strconv.AppendUint(b, s.Check, 10)
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
	if !ok || !bytes.HasPrefix(body, []byte(sampleMagic)) {
		return s, errors.New("not a sample state file")
	}
	want := blake3.Sum256(body)
	if got, ok := bytes.CutPrefix(sumLine, []byte("sum ")); !ok || hex.EncodeToString(want[:]) != string(got) {
		return s, errors.New("checksum mismatch")
	}
	lines := bytes.Split(bytes.TrimSuffix(body[len(sampleMagic):], []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
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
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s, err = NewSampleState()
		return s, true, err
	case errors.Is(err, unix.ELOOP):
		return s, false, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: a symbolic link", ErrStateUnsafe)}
	case err != nil:
		return s, false, err
	}
	defer f.Close()
	if err := checkStateFile(f); err != nil {
		return s, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize))
	if err != nil {
		return s, false, err
	}
	if s, err = decodeSample(b); err != nil {
		return s, false, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %w", ErrStateCorrupt, err)}
	}
	return s, false, nil
}

// checkStateFile checks that the open state file is a regular file owned by
// this user or root that nobody else may read or write.
func checkStateFile(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	switch euid := os.Geteuid(); {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%w: not a regular file", ErrStateUnsafe)
	case st.Uid != uint32(euid) && st.Uid != 0:
		return fmt.Errorf("%w: owned by uid %d, not by uid %d or root", ErrStateUnsafe, st.Uid, euid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("%w: mode %04o lets others read or write it (want 0600)", ErrStateUnsafe, st.Mode&0o7777)
	}
	return nil
}

// Save writes s to path: to a new temporary file beside it (mode 0600),
// synced, renamed over path, and the directory synced.
func (s SampleState) Save(path string) error {
	tmp := path + ".tmp"
	// A temporary file left by a crash, or planted, is never written
	// through: it is removed and made anew.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(s.encode())
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
