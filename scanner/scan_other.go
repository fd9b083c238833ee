//go:build !linux

package scanner

import (
	"context"

	"vigil/merkle"
)

// Scan needs Linux (openat2, getdents, the inode ioctls): see
// [ErrUnsupported].
func Scan(ctx context.Context, roots []string, opts Options, visit func(*merkle.Entry) error) error {
	return ErrUnsupported
}
