//go:build !unix

package nix

import (
	"io"
	"io/fs"
)

// WriteNAR needs a unix system: elsewhere it returns [ErrUnsupported].
func WriteNAR(w io.Writer, path string) (int64, error) {
	return 0, &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupported}
}
