//go:build !linux

package engine

import (
	"errors"
	"os"
)

// checkStateFile needs statx (Linux): the sample state's owner, mode and
// immutable flags cannot be vouched for elsewhere.
func checkStateFile(f *os.File) (stateFile, error) {
	return stateFile{}, errors.ErrUnsupported
}
