//go:build !unix

package alerts

import (
	"errors"
	"io/fs"
)

// readNoFollow is not supported here: vigil reads account databases on
// Unix only.
func readNoFollow(path string, _ int64) ([]byte, error) {
	return nil, &fs.PathError{Op: "read", Path: path, Err: errors.ErrUnsupported}
}
