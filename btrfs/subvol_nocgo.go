//go:build linux && !cgo

package btrfs

// Snapshot needs cgo: see [ErrNoCgo].
func Snapshot(src, dst string, readonly bool) error { return ErrNoCgo }

// Create needs cgo: see [ErrNoCgo].
func Create(path string) error { return ErrNoCgo }
