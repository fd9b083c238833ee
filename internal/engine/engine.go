package engine

import (
	"errors"
	"fmt"
	"golang.org/x/mod/sumdb/note"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"vigil/internal/config"
	"vigil/internal/nixtree"
	"vigil/internal/posture"
	"vigil/internal/textdiff"
	"vigil/merkle"
	"vigil/scanner"
	"vigil/store"
)

// Options configure an operation.
type Options struct {
	// Config supplies roots, rules, excludes and scanner settings.
	Config *config.Config
	// Paths limit Check and Update to these subtrees; for Init they replace
	// the configured roots.
	Paths []string
	// Full rereads every file instead of trusting the stat cache, from the
	// disk rather than the page cache (scanner.Options.Uncached).
	Full bool
	// SampleKey, if set, makes Check and Update read again a keyed,
	// rotating sample of the files the stat cache trusts, so that each is
	// read at least once in any Config.RereadWithin consecutive checks
	// (see scanner.Sample). It is a secret, kept from check to check with
	// the last check's number in a [SampleState]; SampleCheck is this
	// check's number, one more than the last one's.
	SampleKey   *[32]byte
	SampleCheck uint64
	// SampleBack is the number of check numbers before SampleCheck that
	// no check used: their samples are read too (scanner.Sample.Back).
	SampleBack uint64
	// SampleFile, if set, is the keyed sample's state file of a whole
	// Check or Update, which then sets SampleKey, SampleCheck and
	// SampleBack from the clock and the file, records the check there,
	// and reports what was done to the file in Result.SampleAlert (see
	// [SampleState]). A scoped one reads, within its subtrees, the
	// current period's sample (with the file's key) and records nothing.
	SampleFile string
	// Scan makes Check walk the trees (with the stat cache) even where
	// the baseline's Btrfs snapshots would let it search for what changed.
	Scan bool
	// Force lets Init replace an existing baseline.
	Force bool
	// Report receives what the operation finds (see [Reporter]); nil
	// reports nothing and goes on past every unreadable path.
	Report Reporter
	// Accept, if set, chooses which changes Update accepts (see accept.go):
	// for a change it turns down the new baseline keeps what was recorded,
	// so the next check reports it again. An error stops the update and
	// nothing is written. It sees creations and deletions before they are
	// paired into moves.
	Accept func(merkle.Change) (bool, error)
	// Phase is the host's phase, recorded in new baselines.
	Phase string
	// Signer, if set, signs new baselines' statements (seal, reseal).
	Signer note.Signer
	// Command names the operation in new baselines and the audit log
	// ("seal", "reseal"); empty means the operation's own name.
	Command string
	// Reason and User say why and by whom Init or Update was run; they are
	// recorded in the new baseline's metadata, with the real uid.
	Reason, User string
	// Stats, if set, is updated during the scan (for progress).
	Stats *scanner.Stats
	// Pace, if set, is called before each chunk of a file is read and may
	// block (scanner.Options.Pace).
	Pace func()
	// Host and Version are recorded in new baselines.
	Host, Version string
	// KeptCheckpoint is the file where the audit log's checkpoint is kept
	// after the operation; its audit record names it (see [Engine.Trust]).
	KeptCheckpoint string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Posture, if set, collects the host's security posture: whole
	// baselines record it, whole checks compare it (see posture.go).
	// PostureChecks give its changes their severities.
	Posture       *posture.Collector
	PostureChecks []posture.Check
}

// Reporter receives what an operation finds, from one goroutine, in
// order. [Funcs] makes one of functions.
type Reporter interface {
	// Change receives each change found, in order (see the package doc);
	// an error stops the operation.
	Change(merkle.Change) error
	// Error receives each path that could not be (fully) read; an error
	// stops the operation, nil goes on.
	Error(path string, err error) error
	// Warn is told about problems that do not stop the operation (a Btrfs
	// snapshot that could not be taken or pruned, a Btrfs check that fell
	// back to a scan).
	Warn(path string, err error)
	// Missing is told about each root that does not exist (it is skipped:
	// one configuration serves hosts of several layouts).
	Missing(root string)
	// SymlinkRoot is told about each root that is a symbolic link to a
	// place no root covers (by Init and Update): the link is recorded,
	// never followed, so nothing below its target is watched. target is
	// where it leads, resolved as far as it resolves.
	SymlinkRoot(root, target string)
}

// Funcs is a [Reporter] of functions; each nil one does nothing (and, for
// OnChange and OnError, goes on).
type Funcs struct {
	OnChange      func(merkle.Change) error
	OnError       func(path string, err error) error
	OnWarn        func(path string, err error)
	OnMissing     func(root string)
	OnSymlinkRoot func(root, target string)
}

// Change calls OnChange.
func (f Funcs) Change(c merkle.Change) error {
	if f.OnChange == nil {
		return nil
	}
	return f.OnChange(c)
}

// Error calls OnError.
func (f Funcs) Error(path string, err error) error {
	if f.OnError == nil {
		return nil
	}
	return f.OnError(path, err)
}

// Warn calls OnWarn.
func (f Funcs) Warn(path string, err error) {
	if f.OnWarn != nil {
		f.OnWarn(path, err)
	}
}

// Missing calls OnMissing.
func (f Funcs) Missing(root string) {
	if f.OnMissing != nil {
		f.OnMissing(root)
	}
}

// SymlinkRoot calls OnSymlinkRoot.
func (f Funcs) SymlinkRoot(root, target string) {
	if f.OnSymlinkRoot != nil {
		f.OnSymlinkRoot(root, target)
	}
}

// report returns o.Report, or one that reports nothing.
func (o *Options) report() Reporter {
	if o.Report == nil {
		return Funcs{}
	}
	return o.Report
}

// collector is a Reporter that holds the changes back and passes the rest on.
type collector struct {
	Reporter
	changes []merkle.Change
	diffs   map[int]*textdiff.Diff // by index in changes (see ChangeDiff)
}

func (c *collector) Change(ch merkle.Change) error {
	c.changes = append(c.changes, ch)
	return nil
}

// Result summarizes an operation.
type Result struct {
	Added, Removed, Changed, Moved, Errors int64
	// Entries counts the entries scanned.
	Entries int64
	// OldRoot is the baseline's root hash; NewRoot the root of the state
	// just scanned (zero when only subtrees were scanned by Check).
	OldRoot, NewRoot merkle.Hash
	// Tampered, if not nil, says how the baseline failed its integrity
	// check while it was read.
	Tampered error
	// Baseline is the baseline checked, or the one written.
	Baseline store.Info
	// Written says Init or Update wrote a new baseline.
	Written bool
	// Scopes are the subtrees looked at.
	Scopes []string
	// Method says how Check found what changed: MethodBtrfs, MethodScan
	// or MethodFull.
	Method string
	// SampleAlert, if not nil, says what is wrong with the sample state
	// file of Options.SampleFile (missing, damaged, replaced, ahead of the
	// clock, frozen, not written; see [SampleState]): someone may be
	// steering the sample, an alert as Tampered is.
	SampleAlert error
	// Posture are the posture changes a whole check found since the
	// baseline (severity "info" outside the hardened phase).
	Posture []posture.Change
	// Nix are the store paths whose records differ between the Nix
	// trees of the two baselines a diff compares (see nixtree.go).
	Nix []nixtree.Change
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// scanOptions builds the scanner's options from the config and its
// matcher.
func (o *Options) scanOptions(m *config.Matcher) scanner.Options {
	return scanner.Options{
		HashWorkers:      o.Config.HashWorkers,
		DirWorkers:       o.Config.DirWorkers,
		Filter:           m.Filter,
		CrossFilesystems: o.Config.CrossFilesystems,
		MaxHashSize:      o.Config.MaxHashSize,
		Stats:            o.Stats,
		Pace:             o.Pace,
		Sample:           o.sample(),
		Uncached:         o.Full,
	}
}

// sample returns the scanner's Sample, nil without a key.
func (o *Options) sample() *scanner.Sample {
	if o.SampleKey == nil || o.Config.RereadWithin <= 0 {
		return nil
	}
	return &scanner.Sample{Key: *o.SampleKey, Check: o.SampleCheck, Back: o.SampleBack, Within: o.Config.RereadWithin}
}

// checkDBOutside refuses a database file inside any root: the baseline would
// then change whenever it is written.
func checkDBOutside(db string, roots []string, match func(string) (merkle.Attr, bool)) error {
	p, err := filepath.Abs(db)
	if err != nil {
		return err
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	for _, r := range roots {
		if merkle.Within(p, r) {
			if _, excluded := match(p); !excluded {
				return fmt.Errorf("%s (root %s): %w", p, r, ErrDBInside)
			}
		}
	}
	return nil
}

// hostname returns o.Host or the system's host name.
func (o *Options) hostname() string {
	if o.Host != "" {
		return o.Host
	}
	h, _ := os.Hostname()
	return h
}

// within reports whether every path lies inside one of roots.
func within(paths, roots []string) error {
	for _, p := range paths {
		ok := false
		for _, r := range roots {
			ok = ok || merkle.Within(p, r)
		}
		if !ok {
			return fmt.Errorf("%s: %w", p, ErrOutside)
		}
	}
	return nil
}

// reportMissing tells the reporter about roots that do not exist, and
// about roots that are symlinks to unwatched places.
func (o *Options) reportMissing(roots []string) {
	for _, r := range roots {
		st, err := os.Lstat(r)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			o.report().Missing(r)
		case err == nil && st.Mode()&fs.ModeSymlink != 0:
			if target, covered := linkCovered(r, roots); !covered {
				o.report().SymlinkRoot(r, target)
			}
		}
	}
}

// linkCovered resolves the symlink root and reports whether another of
// roots lies at, above or below its target: /bin -> usr/bin beside a root
// /usr/bin is watched there (merged /usr).
func linkCovered(root string, roots []string) (target string, covered bool) {
	target, err := filepath.EvalSymlinks(root)
	if err != nil { // dangling or a loop: as far as it goes
		t, err := os.Readlink(root)
		if err != nil {
			return "", false
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(root), t)
		}
		return filepath.Clean(t), false
	}
	for _, r := range roots {
		if r != root && (merkle.Within(target, r) || merkle.Within(r, target)) {
			return target, true
		}
	}
	return target, false
}
