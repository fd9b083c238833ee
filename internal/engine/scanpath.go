package engine

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"vigil/merkle"
	"vigil/scanner"
)

// ScanPath reads one local path as a scan would, monitoring attrs: what
// the recorded entry of a proof is compared with. An entry that could be
// read only in part comes back with its Err set.
func ScanPath(ctx context.Context, path string, attrs merkle.Attr) (*merkle.Entry, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	got, err := scanPaths(ctx, []string{abs}, func(string) merkle.Attr { return attrs })
	if e := got[abs]; e != nil && ctx.Err() == nil {
		return e, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = &fs.PathError{Op: "lstat", Path: abs, Err: fs.ErrNotExist}
	}
	return nil, err
}

// scanPaths reads each of paths (absolute, clean) as a scan would, but
// not what lies below them, in one scan: attrs gives what is monitored at
// each. A path that does not exist has no entry; errors reading one are
// returned with it joined. Few workers: a path costs a few system calls,
// not the start of a pool (whose read buffers alone are megabytes).
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
