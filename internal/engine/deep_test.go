//go:build linux

package engine_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
)

// TestBeyondPathMax: below a directory whose path is longer than PATH_MAX,
// a changed file and an added file are each reported as what they are.
func TestBeyondPathMax(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{})
	name := strings.Repeat("d", 250)
	fd, err := unix.Open(f.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	var rel []string
	for len(f.root)+len(rel)*(len(name)+1) <= unix.PathMax {
		must(t, unix.Mkdirat(fd, name, 0o755))
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		must(t, err)
		fd, rel = sub, append(rel, name)
	}
	defer unix.Close(fd)
	write := func(name, data string) {
		t.Helper()
		w, err := unix.Openat(fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
		must(t, err)
		_, err = unix.Write(w, []byte(data))
		unix.Close(w)
		must(t, err)
	}
	write("f", "old")
	f.init(t)
	write("f", "new")
	write("g", "added")
	changes, errs, _ := f.check(t, f.opts())
	if len(errs) != 0 {
		t.Fatalf("Check below PATH_MAX: errors %v, want none", errs)
	}
	deep := strings.Join(rel, "/")
	want := []change{
		ch(merkle.AttributesModified, deep, times),
		ch(updated, deep+"/f", merkle.AttrContent|times),
		ch(created, deep+"/g", noChanges),
	}
	if diff := cmp.Diff(sortChanges(want), sortChanges(changes)); diff != "" {
		t.Errorf("Check below PATH_MAX (-want +got):\n%s", diff)
	}
}
