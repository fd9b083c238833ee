package nix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Kind names a finding; the values are the event.action of the alerts.
type Kind string

// The findings of [Verify] and [Compare].
const (
	// ContentChanged: a valid path's NAR serialization does not hash to
	// the database's NAR hash (or could not be read).
	ContentChanged Kind = "nix_content_changed"
	// Missing: a valid path is not on disk.
	Missing Kind = "nix_path_missing"
	// Unregistered: an entry of the store directory that ValidPaths does
	// not list.
	Unregistered Kind = "nix_path_unregistered"
	// Untrusted: a valid path signed by no trusted key, not built on this
	// host and not content-addressed (only with require-sigs).
	Untrusted Kind = "nix_path_untrusted"
	// DBChanged: a path's database record (hash, size, registration
	// time, references, signatures) differs from the one sealed.
	DBChanged Kind = "nix_db_changed"
	// ClosureAdded: a path of the system closure that the sealed closure
	// did not hold.
	ClosureAdded Kind = "nix_closure_added"
	// ClosureRemoved: a path of the sealed closure the current one lacks.
	ClosureRemoved Kind = "nix_closure_removed"
)

// Severity of each kind, as the alerts name them.
func (k Kind) Severity() string {
	switch k {
	case ContentChanged, Missing, Unregistered, DBChanged:
		return "critical"
	case Untrusted, ClosureAdded:
		return "high"
	}
	return "medium"
}

// A Finding is one thing Verify or Compare found wrong, about one store
// path.
type Finding struct {
	Kind   Kind     `json:"kind"`
	Path   string   `json:"path"`            // the store path
	Files  []string `json:"files,omitempty"` // below Path: the entries not in Nix's canonical state
	Detail string   `json:"detail,omitempty"`
	// Generation is, for ClosureAdded, the system generation whose
	// closure brought the path (0: not a profile generation), and Root
	// the link it was reached from.
	Generation int    `json:"generation,omitempty"`
	Root       string `json:"root,omitempty"`
}

// State is what vigil records of one valid path when it verifies it: the
// NAR hash it computed (or reused) and the stat digest of its tree.
type State struct {
	NAR  PathHash
	Stat [32]byte
}

// Options of [Verify]; the zero value verifies every path by rehashing it.
type Options struct {
	// Conf is the trust configuration (nix.conf's keys, require-sigs).
	Conf Conf
	// Known are the states recorded at the last seal or check: a path
	// whose stat digest is unchanged and whose database hash is the
	// recorded one is not rehashed (the stat cache, per store path),
	// unless Full is set or Rehash says so.
	Known map[string]State
	// Full rehashes every path.
	Full bool
	// Rehash, if not nil, picks paths to rehash despite the cache (the
	// keyed sample).
	Rehash func(path string) bool
	// Workers hashing in parallel; 0 is GOMAXPROCS.
	Workers int
}

// Report is the result of [Verify].
type Report struct {
	Paths    map[string]*PathInfo // the database's valid paths
	States   map[string]State     // of every valid path on disk and readable
	Findings []Finding
	Hashed   int   // paths whose NAR was computed
	Bytes    int64 // NAR bytes hashed
	Reused   int   // paths trusted by the stat cache
}

// Verify reads the store's database and checks the store against it: each
// valid path's NAR hash, each entry of the store directory being a valid
// path, and with require-sigs each path being trusted. The findings are
// sorted by path then kind.
func Verify(ctx context.Context, s Store, opts Options) (*Report, error) {
	r, err := Read(ctx, s)
	if err != nil {
		return nil, err
	}
	paths := r.Paths
	if err := r.unregistered(s); err != nil {
		return nil, err
	}
	if err := r.hashAll(ctx, s, opts); err != nil {
		return nil, err
	}
	if opts.Conf.RequireSigs {
		for _, p := range paths {
			if !p.Ultimate && SignedBy(p, opts.Conf.TrustedKeys) == "" && !ContentAddressed(p, StoreDir) {
				r.Findings = append(r.Findings, Finding{Kind: Untrusted, Path: p.Path,
					Detail: "signed by no trusted key, not built here, not content-addressed"})
			}
		}
	}
	SortFindings(r.Findings)
	return r, nil
}

// Read returns a report of the store's database alone: its valid paths,
// nothing verified (what [Compare] needs for the closure).
func Read(ctx context.Context, s Store) (*Report, error) {
	db, err := OpenDB(s.Real(DBPath))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	paths, err := db.Paths(ctx)
	if err != nil {
		return nil, err
	}
	return &Report{Paths: paths, States: map[string]State{}}, nil
}

// SortFindings sorts by path, then kind.
func SortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if a.Path != b.Path {
			if a.Path < b.Path {
				return -1
			}
			return 1
		}
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
}

// unregistered lists the store directory: every entry but Nix's own
// .links (hard-link deduplication) must be a valid path.
func (r *Report) unregistered(s Store) error {
	f, err := os.Open(s.Real(StoreDir))
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: s.Real(StoreDir), Err: err}
	}
	for _, n := range names {
		p := StoreDir + "/" + n
		if n == ".links" || r.Paths[p] != nil {
			continue
		}
		r.Findings = append(r.Findings, Finding{Kind: Unregistered, Path: p,
			Detail: "in the store directory, not in the Nix database"})
	}
	return nil
}

func (r *Report) hashAll(ctx context.Context, s Store, opts Options) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	var mu sync.Mutex
	for _, p := range SortedKeys(r.Paths) {
		info := r.Paths[p]
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			st, hashed, f := checkPath(s, info, opts)
			mu.Lock()
			defer mu.Unlock()
			if f != nil {
				r.Findings = append(r.Findings, *f)
			}
			if f == nil || f.Kind == ContentChanged {
				if st != (State{}) {
					r.States[p] = st
				}
			}
			if hashed {
				r.Hashed++
				r.Bytes += st.NAR.NARSize
			} else if f == nil {
				r.Reused++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// checkPath verifies one valid path: its state, whether it was hashed, and
// its finding if any. A path the stat cache may trust costs a walk of
// lstats; one it must hash, one walk that hashes and digests the stats.
func checkPath(s Store, info *PathInfo, opts Options) (State, bool, *Finding) {
	real := s.Real(info.Path)
	want, err := ParseSHA256(info.Hash)
	if err != nil {
		return State{}, false, &Finding{Kind: ContentChanged, Path: info.Path, Detail: err.Error()}
	}
	k, known := opts.Known[info.Path]
	if known && !opts.Full && k.NAR.SHA256 == want && k.NAR.NARSize == info.NARSize &&
		(opts.Rehash == nil || !opts.Rehash(info.Path)) {
		digest, _, err := statPath(real)
		if isGone(err, real) {
			return State{}, false, missing(info)
		}
		if err == nil && digest == k.Stat {
			return k, false, nil
		}
	}
	h, digest, odd, err := hashStatPath(real)
	if isGone(err, real) {
		return State{}, false, missing(info)
	}
	if err != nil {
		return State{}, true, &Finding{Kind: ContentChanged, Path: info.Path, Files: odd, Detail: err.Error()}
	}
	st := State{NAR: h, Stat: digest}
	if h.SHA256 != want || h.NARSize != info.NARSize {
		return st, true, &Finding{Kind: ContentChanged, Path: info.Path, Files: odd,
			Detail: fmt.Sprintf("NAR hash %s (%d bytes), database %s (%d bytes)", h, h.NARSize, info.Hash, info.NARSize)}
	}
	return st, true, nil
}

// isGone reports whether err says the store path at real itself does not
// exist (not a file below it that vanished while it was read).
func isGone(err error, real string) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Path == real && errors.Is(err, fs.ErrNotExist)
}

func missing(info *PathInfo) *Finding {
	return &Finding{Kind: Missing, Path: info.Path, Detail: "valid in the Nix database, not on disk"}
}
