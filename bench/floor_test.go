package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// expectedFloor computes what Floor should report for root from a plain walk.
func expectedFloor(t *testing.T, root string) FloorStats {
	t.Helper()
	var st FloorStats
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			st.Dirs++
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := blake3.Sum256(data)
			xorInto(&st.Digest, &sum)
			st.Files++
			st.Bytes += int64(len(data))
		case d.Type()&fs.ModeSymlink != 0:
			st.Symlinks++
		default:
			st.Other++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return st
}

func TestFloor(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	if _, err := Generate(t.Context(), root, 1500, 5); err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	// A file larger than the buffer, an empty one and a FIFO.
	big := make([]byte, 3*4096+17)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(root, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(root, "fifo")); err != nil {
		t.Fatal(err)
	}
	want := expectedFloor(t, root)
	tests := []struct {
		name string
		opts FloorOptions
	}{
		{"defaults", FloorOptions{}},
		{"one worker, small buffer", FloorOptions{Workers: 1, BufferSize: 4096}},
		{"four workers, odd buffer", FloorOptions{Workers: 4, BufferSize: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Floor(t.Context(), root, tt.opts)
			if err != nil {
				t.Fatalf("Floor(%+v) = %v", tt.opts, err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Floor(%+v) (-got +want):\n%s", tt.opts, diff)
			}
		})
	}
}

func TestFloorMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	_, err := Floor(t.Context(), root, FloorOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Floor(%s) = %v, want an error matching fs.ErrNotExist", root, err)
	}
}

func TestFloorCancelled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	if _, err := Generate(t.Context(), root, 500, 1); err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Floor(ctx, root, FloorOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Floor(cancelled) = %v, want %v", err, context.Canceled)
	}
}

func mkfifo(path string) error {
	if err := unix.Mkfifo(path, 0o644); err != nil {
		return &fs.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return nil
}

// BenchmarkFloor sweeps the worker count of Floor on a tree of small files,
// page cache warm.
func BenchmarkFloor(b *testing.B) {
	root := filepath.Join(b.TempDir(), "tree")
	c, err := Generate(b.Context(), root, 5000, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(c.Bytes)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Floor(b.Context(), root, FloorOptions{Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
