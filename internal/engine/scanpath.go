package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"vigil/merkle"
	"vigil/scanner"
)

// ScanPath reads one local path as a scan would, monitoring attrs: what
// the recorded entry of a proof is compared with.
func ScanPath(ctx context.Context, path string, attrs merkle.Attr) (*merkle.Entry, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var got *merkle.Entry
	var scanErr error
	// The path itself, not what lies below it.
	// One worker of each kind: a path costs a few system calls, not the
	// start of a pool (whose read buffers alone are megabytes).
	opts := scanner.Options{
		HashWorkers: 1, DirWorkers: 1,
		Filter:  func(p string, _ bool) (merkle.Attr, bool) { return attrs, p != abs },
		OnError: func(p string, err error) error { scanErr = err; return nil },
	}
	err = scanner.Scan(ctx, []string{abs}, opts, func(e *merkle.Entry) error {
		if e.Path == abs {
			got = e
		}
		return nil
	})
	if err == nil && got == nil {
		err = errors.Join(fmt.Errorf("%s: not found", abs), scanErr)
	}
	return got, err
}

// scanPaths reads each of paths (absolute, clean) as a scan would, but
// not what lies below them, in one scan: attrs gives what is monitored at
// each. A path that does not exist has no entry; errors reading one are
// returned with it joined.
func scanPaths(ctx context.Context, paths []string, attrs func(string) merkle.Attr) (map[string]*merkle.Entry, error) {
	want := make(map[string]bool, len(paths))
	via := map[string]bool{} // directories on the way to a wanted path
	for _, p := range paths {
		want[p] = true
		for d := merkle.Parent(p); d != ""; d = merkle.Parent(d) {
			via[d] = true
		}
	}
	out := make(map[string]*merkle.Entry, len(paths))
	var errs []error
	opts := scanner.Options{
		HashWorkers: 2, DirWorkers: 1,
		// Only wanted paths and the directories on the way to them pass
		// the filter, whatever filesystem they are on.
		CrossFilesystems: true,
		Filter: func(p string, _ bool) (merkle.Attr, bool) {
			if !want[p] && !via[p] {
				return 0, true
			}
			return attrs(p), false
		},
		OnError: func(p string, err error) error { errs = append(errs, err); return nil },
	}
	// Scan de-nests roots: a path below another is read as part of its
	// parent's listing, which the filter lets through.
	err := scanner.Scan(ctx, paths, opts, func(e *merkle.Entry) error {
		if want[e.Path] {
			out[e.Path] = e
		}
		return nil
	})
	return out, errors.Join(append(errs, err)...)
}
