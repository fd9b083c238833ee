//go:build !unix

package nix

import "io/fs"

func statPath(path string) ([32]byte, []string, error) {
	return [32]byte{}, nil, &fs.PathError{Op: "lstat", Path: path, Err: ErrUnsupported}
}

type statHasher struct{}

func hashStatPath(path string) (PathHash, [32]byte, []string, error) {
	return PathHash{}, [32]byte{}, nil, &fs.PathError{Op: "nar", Path: path, Err: ErrUnsupported}
}
