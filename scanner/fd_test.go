package scanner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"vigil/internal/fimtest"
	"vigil/merkle"
	"vigil/scanner"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestScanClosesDescriptors: a scan closes every directory it opened,
// whether it ends, its visitor stops it, or it is cancelled, with
// directories still waiting to be opened relative to their parents. Not
// parallel: it counts the process's descriptors.
func TestScanClosesDescriptors(t *testing.T) {
	root := t.TempDir()
	tr := fimtest.Tree{}
	for i := range 30 {
		for j := range 4 {
			tr[fmt.Sprintf("d%02d/s%d/f", i, j)] = fimtest.File("x")
			tr[fmt.Sprintf("d%02d/g%d", i, j)] = fimtest.File("y")
		}
	}
	tr.Make(t, root)
	stop := errors.New("stop")
	for _, after := range []int{-1, 1, 10, 100} { // entries visited before stopping; -1: never
		for _, cancel := range []bool{false, true} {
			before := openFDs(t)
			ctx, cancelFn := context.WithCancel(t.Context())
			n := 0
			opts := scanner.Options{Fault: func(op, path string) error {
				if op == "opendir" && strings.HasSuffix(path, "/s1") {
					return syscall.EIO // a directory that fails before it is opened
				}
				return nil
			}}
			err := scanner.Scan(ctx, []string{root}, opts, func(*merkle.Entry) error {
				if n++; n == after {
					if cancel {
						cancelFn()
						return nil
					}
					return stop
				}
				return nil
			})
			cancelFn()
			if after < 0 && err != nil {
				t.Fatalf("Scan(%s) = %v", root, err)
			}
			if got := openFDs(t); got != before {
				t.Errorf("stopped after %d entries (cancel %v): %d descriptors open, %d before the scan", after, cancel, got, before)
			}
		}
	}
}
