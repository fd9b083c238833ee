package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/config"
	"vigil/internal/nix"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// NixRequest is what a check of the Nix store asks of [Engine.CheckNix];
// the trust decision is the caller's, taken before.
type NixRequest struct {
	// Full rehashes every store path (check --full).
	Full bool
	// SampleFile is the keyed sample's state file of the caller's whole
	// checks ([SampleState]): its key chooses which store paths the stat
	// cache trusts are rehashed anyway, as it does for files. It is read,
	// never written (the whole checks record their periods there). Empty:
	// no sample.
	SampleFile string
	// Last is the sample period of the caller's previous Nix check (0:
	// none or unknown): the store paths due in the periods between are
	// rehashed too (scanner.Sample's Back), so that a Nix check run less
	// often than once a period still rehashes every trusted path within
	// Config.RereadWithin periods; a check in the period Last names
	// rehashes no sample (its paths were, by the check that returned
	// it), so that a caller checking several times a period (the daemon)
	// pays for the sample once.
	Last uint64
	// SealedOnly checks nothing when the current baseline records no
	// snapshot (a whole check's Nix part).
	SealedOnly bool
	// ClosureOnly reads the Nix database and hashes nothing: the findings
	// are the system closure's paths added and removed since the snapshot
	// (nix diff).
	ClosureOnly bool
}

// NixResult is what [Engine.CheckNix] found.
type NixResult struct {
	// Off: [nix] is off, or unset and there is no Nix database: nothing
	// was checked.
	Off bool
	// Tampered, if not nil, says the snapshot file is not the one the
	// current baseline records ([ErrNixSnapshotChanged]): the store was not
	// checked (what it would say cannot be trusted).
	Tampered error
	// Sealed: the current baseline records the snapshot, and the
	// findings include the comparison with it.
	Sealed bool
	// Report is the verification of the store against the Nix database.
	Report *nix.Report
	// Findings are the report's and the comparison's, sorted.
	Findings []nix.Finding
	// Roots are the system roots the closure was taken from.
	Roots []nix.SystemRoot
	// Sample is the keyed sample of the store paths (nil: none); its
	// Check is the period to pass as the next request's Last.
	Sample *scanner.Sample
}

// NixEnabled reports whether [nix] checks the store at its root: on when
// set, or unset and the Nix database exists. A missing database with
// nix.enabled = true is a configuration error.
func NixEnabled(cfg *config.Config) (bool, error) {
	st := nix.Store{Root: cfg.Nix.RootDir()}
	switch {
	case cfg.Nix.Enabled != nil && !*cfg.Nix.Enabled:
		return false, nil
	case st.Exists():
		return true, nil
	case cfg.Nix.Enabled == nil:
		return false, nil
	}
	return false, fmt.Errorf("%w: nix.enabled is true, but there is no Nix database at %s", config.ErrInvalid, st.Real(nix.DBPath))
}

// CheckNix verifies the Nix store against the Nix database and, when the
// current baseline records the snapshot, against it: as the records of
// its Nix tree (verified up to the root its statement signs; records that
// do not are Tampered, wrapping [store.ErrTampered]), or, for a baseline
// sealed before the tree, as the snapshot file (nix.snapshot) when it
// holds the recorded content: database records changed
// since, and the system closure's paths added or removed. The snapshot's
// record is verified up to the baseline's root hash ([store.Baseline.Lookup])
// and the file's bytes hashed once, as read: what is compared is what was
// attested. The caller takes the trust decision first, as for every
// operation.
func (e *Engine) CheckNix(ctx context.Context, db *store.DB, r NixRequest) (NixResult, error) {
	on, err := NixEnabled(e.cfg)
	if err != nil || !on {
		return NixResult{Off: !on}, err
	}
	cur, err := db.Current()
	if err != nil {
		return NixResult{}, err
	}
	sealed, ok, err := sealedNix(cur, e.cfg.Nix.SnapshotPath())
	if errors.Is(err, ErrNixSnapshotChanged) || errors.Is(err, store.ErrTampered) {
		return NixResult{Tampered: err}, nil
	}
	if err != nil {
		return NixResult{}, err
	}
	if !ok && r.SealedOnly {
		return NixResult{}, nil
	}
	st := nix.Store{Root: e.cfg.Nix.RootDir()}
	if r.ClosureOnly {
		return closureOnly(ctx, st, sealed, ok)
	}
	conf, err := st.ReadConf()
	if err != nil {
		return NixResult{}, err
	}
	res := NixResult{Sealed: ok}
	opts := nix.Options{Conf: conf, Known: sealed.Known(), Full: r.Full}
	if res.Sample, err = e.nixSample(cur.Info(), r); err != nil {
		return NixResult{}, err
	}
	if res.Sample != nil && (r.Last == 0 || r.Last != res.Sample.Check) {
		opts.Rehash = NixRehash(res.Sample)
	}
	if res.Report, err = nix.Verify(ctx, st, opts); err != nil {
		return NixResult{}, err
	}
	if res.Roots, err = st.SystemRoots(); err != nil {
		return NixResult{}, err
	}
	res.Findings = append(res.Findings, res.Report.Findings...)
	if ok {
		res.Findings = append(res.Findings, nix.Compare(sealed, res.Report, res.Roots)...)
	}
	nix.SortFindings(res.Findings)
	return res, nil
}

// closureOnly is CheckNix's ClosureOnly: the database read, the closure
// compared with the sealed one.
func closureOnly(ctx context.Context, st nix.Store, sealed nix.Snapshot, ok bool) (NixResult, error) {
	res := NixResult{Sealed: ok}
	var err error
	if res.Report, err = nix.Read(ctx, st); err != nil {
		return NixResult{}, err
	}
	if res.Roots, err = st.SystemRoots(); err != nil {
		return NixResult{}, err
	}
	if !ok {
		return res, nil
	}
	for _, f := range nix.Compare(sealed, res.Report, res.Roots) {
		if f.Kind == nix.ClosureAdded || f.Kind == nix.ClosureRemoved {
			res.Findings = append(res.Findings, f)
		}
	}
	return res, nil
}

// NixRehash returns the choice of store paths the stat cache trusts that
// are rehashed anyway: those s says are due (nil for a nil sample). The
// keyed hash is over the epoch and the store path's name, with no device
// or inode: a store path's name is its identity (a digest of what it was
// built from), and the choice is made before anything of it is read.
func NixRehash(s *scanner.Sample) func(string) bool {
	if s == nil || s.Within <= 0 {
		return nil
	}
	return func(p string) bool { return s.Due(&merkle.Entry{Path: p}) }
}

// nixSample is the keyed sample of a Nix check: the key of r.SampleFile
// (or, for a missing or damaged file, the baseline's fallback key, as a
// whole check takes it), the period the clock is in, and the periods since
// r.Last.
func (e *Engine) nixSample(cur store.Info, r NixRequest) (*scanner.Sample, error) {
	if r.SampleFile == "" || e.cfg.RereadWithin <= 0 || r.Full {
		return nil, nil
	}
	s, _, created, err := loadSample(r.SampleFile)
	switch {
	case errors.Is(err, ErrStateCorrupt) || created:
		s.Key = fallbackSampleKey(cur)
	case err != nil:
		return nil, err
	}
	o := e.Options()
	check := samplePeriodAt(o.now(), SamplePeriod(e.cfg))
	var back uint64
	if r.Last != 0 && r.Last+1 < check {
		back = check - r.Last - 1
	}
	return &scanner.Sample{Key: s.Key, Check: check, Back: back, Within: e.cfg.RereadWithin}, nil
}

// sealedNix returns the sealed snapshot of cur: its Nix tree's records
// when it records a tree (see nixtree.go), else the snapshot file's
// ([sealedNixSnapshot]), as baselines sealed before the tree have it.
// The file is checked in both cases: a snapshot written and not accepted,
// or changed since, is [ErrNixSnapshotChanged] either way.
func sealedNix(cur *store.Baseline, path string) (nix.Snapshot, bool, error) {
	tree := cur.Info().Nix != nil
	s, ok, err := sealedNixSnapshot(cur, path, !tree)
	if err != nil || !tree {
		return s, ok, err
	}
	return sealedNixTree(cur)
}

// maxNixSnapshot bounds what is read of a snapshot file (about 300 bytes a
// store path: a million paths fit).
const maxNixSnapshot = 1 << 30

// sealedNixSnapshot reads the snapshot at path if cur records it: ok false
// (and no error) when neither cur nor the disk holds it;
// [ErrNixSnapshotChanged] when the file is not what cur records (its
// content, a file no longer, or a file cur does not record). Without
// decode, the file is only checked, and the snapshot returned is empty.
func sealedNixSnapshot(cur *store.Baseline, path string, decode bool) (nix.Snapshot, bool, error) {
	want, err := cur.Lookup(path)
	if errors.Is(err, store.ErrNotFound) {
		if _, lerr := os.Lstat(path); lerr == nil {
			// Written (vigil nix snapshot) and not accepted yet.
			return nix.Snapshot{}, false, &fs.PathError{Op: "lookup", Path: path,
				Err: fmt.Errorf("%w: the current baseline does not record it (accept it with update or reseal)", ErrNixSnapshotChanged)}
		}
		return nix.Snapshot{}, false, nil
	}
	if err != nil {
		return nix.Snapshot{}, false, err
	}
	if want.Type != merkle.TypeFile || want.HashState != merkle.HashOK {
		return nix.Snapshot{}, false, &fs.PathError{Op: "read", Path: path,
			Err: fmt.Errorf("%w: the baseline records no content hash of it", ErrNixSnapshotChanged)}
	}
	b, err := readSnapshotFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ELOOP) {
		return nix.Snapshot{}, false, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrNixSnapshotChanged, err)}
	}
	if err != nil {
		return nix.Snapshot{}, false, err
	}
	if blake3.Sum256(b) != want.Hash {
		return nix.Snapshot{}, false, &fs.PathError{Op: "read", Path: path,
			Err: fmt.Errorf("%w: its content is not the one recorded", ErrNixSnapshotChanged)}
	}
	var s nix.Snapshot
	if !decode {
		return s, true, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nix.Snapshot{}, false, &fs.PathError{Op: "decode", Path: path, Err: err}
	}
	return s, true, nil
}

// readSnapshotFile reads a regular file without following a symlink or
// opening anything else.
func readSnapshotFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: not a regular file", ErrNixSnapshotChanged)}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxNixSnapshot+1))
	if err == nil && len(b) > maxNixSnapshot {
		err = &fs.PathError{Op: "read", Path: path, Err: errors.New("larger than 1 GiB")}
	}
	return b, err
}
