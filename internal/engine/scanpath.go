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
	opts := scanner.Options{
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
