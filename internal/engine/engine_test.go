//go:build linux

package engine_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
)

// baseTree is the tree every row of TestChanges starts from.
var baseTree = fimtest.Tree{
	"f":     fimtest.File("aaaa"),
	"x":     fimtest.File("#!/bin/sh\n").Mode(0o755),
	"d/a":   fimtest.File("a"),
	"d/b/c": fimtest.File("c"),
	"l":     fimtest.Symlink("f"),
	"dev":   fimtest.CharDev(1, 3),
}

// Attribute sets that recur below.
const (
	times    = merkle.AttrMtime | merkle.AttrCtime // a directory gained or lost a name
	timesDir = times | merkle.AttrNlink            // ... and that name was a directory
)

const (
	updated   = merkle.Updated
	modified  = merkle.AttributesModified
	created   = merkle.Created
	deleted   = merkle.Deleted
	noChanges = merkle.Attr(0)
)

// capV2 is a valid security.capability value (struct vfs_cap_data,
// revision 2): effective, permitting CAP_NET_BIND_SERVICE.
func capV2() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x02000001) // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
	b = binary.LittleEndian.AppendUint32(b, 1<<unix.CAP_NET_BIND_SERVICE)
	return append(b, make([]byte, 12)...) // inheritable, then the high words
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestChanges makes one kind of change to a real tree between Init and
// Check and asserts exactly what Check reports; then that Update accepts it
// (reporting the same) and that a Check after that reports nothing.
func TestChanges(t *testing.T) {
	fimtest.NeedRoot(t, "mknod, chattr +i, chown, security.capability")
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		want   []change
	}{
		{"nothing", func(*testing.T, *fixture) {}, nil},
		{"content changed at the same size, mtime put back", func(t *testing.T, f *fixture) {
			must(t, os.WriteFile(f.path("f"), []byte("bbbb"), 0))
			must(t, os.Chtimes(f.path("f"), fimtest.Past, fimtest.Past))
		}, []change{ch(updated, "f", merkle.AttrContent|merkle.AttrCtime)}},
		{"content appended", func(t *testing.T, f *fixture) {
			appendTo(t, f.path("f"), "b")
		}, []change{ch(updated, "f", merkle.AttrContent|merkle.AttrSize|times)}},
		{"setuid added", func(t *testing.T, f *fixture) {
			must(t, unix.Chmod(f.path("x"), 0o4755))
		}, []change{ch(modified, "x", merkle.AttrMode|merkle.AttrCtime)}},
		{"owner changed", func(t *testing.T, f *fixture) {
			must(t, os.Lchown(f.path("f"), 4242, -1))
		}, []change{ch(modified, "f", merkle.AttrUID|merkle.AttrCtime)}},
		{"owner and group of a symlink changed", func(t *testing.T, f *fixture) {
			must(t, os.Lchown(f.path("l"), 4242, 4343))
		}, []change{ch(modified, "l", merkle.AttrUID|merkle.AttrGID|merkle.AttrCtime)}},
		{"file added", func(t *testing.T, f *fixture) {
			must(t, os.WriteFile(f.path("new"), []byte("new"), 0o644))
		}, []change{ch(modified, ".", times), ch(created, "new", noChanges)}},
		{"subtree added", func(t *testing.T, f *fixture) {
			fimtest.Tree{"n/a": fimtest.File("1"), "n/m/b": fimtest.File("2"), "n/m/l": fimtest.Symlink("b")}.Make(t, f.root)
		}, []change{
			ch(modified, ".", timesDir),
			ch(created, "n", noChanges), ch(created, "n/a", noChanges), ch(created, "n/m", noChanges),
			ch(created, "n/m/b", noChanges), ch(created, "n/m/l", noChanges),
		}},
		{"file removed", func(t *testing.T, f *fixture) {
			must(t, os.Remove(f.path("f")))
		}, []change{ch(modified, ".", times), ch(deleted, "f", noChanges)}},
		{"subtree removed", func(t *testing.T, f *fixture) {
			must(t, os.RemoveAll(f.path("d")))
		}, []change{
			ch(modified, ".", timesDir),
			ch(deleted, "d", noChanges), ch(deleted, "d/a", noChanges), ch(deleted, "d/b", noChanges), ch(deleted, "d/b/c", noChanges),
		}},
		{"file renamed", func(t *testing.T, f *fixture) {
			must(t, os.Rename(f.path("f"), f.path("g")))
		}, []change{ch(modified, ".", times), moved("f", "g", merkle.AttrCtime)}},
		{"file moved into a subdirectory", func(t *testing.T, f *fixture) {
			must(t, os.Rename(f.path("f"), f.path("d/b/f")))
		}, []change{
			ch(modified, ".", times), ch(modified, "d/b", times), moved("f", "d/b/f", merkle.AttrCtime),
		}},
		{"directory renamed", func(t *testing.T, f *fixture) {
			must(t, os.Rename(f.path("d"), f.path("e")))
		}, []change{
			ch(modified, ".", times),
			moved("d", "e", merkle.AttrCtime), moved("d/a", "e/a", noChanges),
			moved("d/b", "e/b", noChanges), moved("d/b/c", "e/b/c", noChanges),
		}},
		{"symlink retargeted", func(t *testing.T, f *fixture) {
			// ln -sfn: a new link renamed over the old one.
			must(t, os.Symlink("x", f.path("l.tmp")))
			must(t, os.Rename(f.path("l.tmp"), f.path("l")))
		}, []change{
			ch(modified, ".", times),
			ch(modified, "l", merkle.AttrTarget|merkle.AttrInode|times),
		}},
		{"file replaced by a symlink", func(t *testing.T, f *fixture) {
			must(t, os.Symlink("x", f.path("f.new")))
			must(t, os.Rename(f.path("f.new"), f.path("f")))
		}, []change{
			ch(modified, ".", times),
			ch(updated, "f", merkle.AttrContent|merkle.AttrType|merkle.AttrMode|merkle.AttrSize|times|
				merkle.AttrInode|merkle.AttrTarget|merkle.AttrFlags),
		}},
		{"file replaced by a directory", func(t *testing.T, f *fixture) {
			replace(t, f.path("f"), func(p string) error { return os.Mkdir(p, 0o644) })
		}, []change{
			ch(modified, ".", timesDir),
			ch(updated, "f", merkle.AttrContent|merkle.AttrType|merkle.AttrSize|times|merkle.AttrInode|merkle.AttrNlink),
		}},
		{"file replaced by a copy (new inode, same content)", func(t *testing.T, f *fixture) {
			must(t, os.WriteFile(f.path("f.new"), []byte("aaaa"), 0o644))
			must(t, os.Rename(f.path("f.new"), f.path("f")))
		}, []change{ch(modified, ".", times), ch(modified, "f", times|merkle.AttrInode)}},
		{"hard link added", func(t *testing.T, f *fixture) {
			must(t, os.Link(f.path("f"), f.path("h")))
		}, []change{
			ch(modified, ".", times),
			ch(modified, "f", merkle.AttrNlink|merkle.AttrCtime),
			ch(created, "h", noChanges),
		}},
		{"xattr added", func(t *testing.T, f *fixture) {
			must(t, unix.Lsetxattr(f.path("f"), "user.x", []byte("1"), 0))
		}, []change{ch(modified, "f", merkle.AttrXattrs|merkle.AttrCtime)}},
		{"file capability added", func(t *testing.T, f *fixture) {
			must(t, unix.Setxattr(f.path("x"), "security.capability", capV2(), 0))
		}, []change{ch(modified, "x", merkle.AttrXattrs|merkle.AttrCtime)}},
		{"directory mode changed", func(t *testing.T, f *fixture) {
			must(t, unix.Chmod(f.path("d"), 0o700))
		}, []change{ch(modified, "d", merkle.AttrMode|merkle.AttrCtime)}},
		{"mtime only", func(t *testing.T, f *fixture) {
			later := fimtest.Past.Add(time.Hour)
			must(t, os.Chtimes(f.path("f"), later, later))
		}, []change{ch(modified, "f", times)}},
		{"immutable flag set", func(t *testing.T, f *fixture) {
			fimtest.Immutable(t, f.path("f"))
		}, []change{ch(modified, "f", merkle.AttrFlags|merkle.AttrCtime)}},
		{"device number changed", func(t *testing.T, f *fixture) {
			replace(t, f.path("dev"), func(p string) error {
				return unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
			})
			must(t, unix.Chmod(f.path("dev"), 0o644))
		}, []change{
			ch(modified, ".", times),
			ch(updated, "dev", merkle.AttrContent|times|merkle.AttrInode),
		}},
		{"file read", func(t *testing.T, f *fixture) {
			if _, err := os.ReadFile(f.path("f")); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"file created and removed", func(t *testing.T, f *fixture) {
			// Nothing reports the file; its directory's times moved.
			must(t, os.WriteFile(f.path("tmp"), []byte("x"), 0o644))
			must(t, os.Remove(f.path("tmp")))
		}, []change{ch(modified, ".", times)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, baseTree)
			f.init(t)
			tt.mutate(t, f)
			want := sortChanges(tt.want)

			got, errs, res := f.check(t, f.opts())
			if diff := cmp.Diff(want, sortChanges(got)); diff != "" || len(errs) != 0 {
				t.Errorf("Check reported (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if n := res.Added + res.Removed + res.Changed + res.Moved; n != int64(len(want)) {
				t.Errorf("Check: Added+Removed+Changed+Moved = %d, want %d (%+v)", n, len(want), res)
			}

			got, errs, res = f.update(t, f.opts())
			if diff := cmp.Diff(want, sortChanges(got)); diff != "" || len(errs) != 0 {
				t.Errorf("Update reported (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if res.Written != (len(want) > 0) {
				t.Errorf("Update: Written = %v, want %v", res.Written, len(want) > 0)
			}

			got, errs, _ = f.check(t, f.opts())
			if len(got) != 0 || len(errs) != 0 {
				t.Errorf("Check after Update reported %v, errors %v; want nothing", got, errs)
			}
		})
	}
}

// replace removes path and makes something else there with create. The old
// inode is kept alive by a hard link in another directory until the test
// ends, so that the new entry cannot reuse its number, as ext4 likes to.
func replace(t *testing.T, path string, create func(string) error) {
	t.Helper()
	must(t, os.Link(path, filepath.Join(t.TempDir(), "pin")))
	must(t, os.Remove(path))
	must(t, create(path))
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fd.WriteString(s)
	must(t, errors.Join(err, fd.Close()))
}

// TestRecordedAttributes checks what Init records for extended attributes,
// a file capability and inode flags, beyond their being reported.
func TestRecordedAttributes(t *testing.T) {
	fimtest.NeedRoot(t, "chattr +i and file capabilities")
	t.Parallel()
	f := newFixture(t, baseTree)
	must(t, unix.Lsetxattr(f.path("f"), "user.x", []byte("1"), 0))
	must(t, unix.Setxattr(f.path("x"), "security.capability", capV2(), 0))
	fimtest.Immutable(t, f.path("d/a"))
	f.init(t)

	want := []merkle.Xattr{{Name: "user.x", Value: []byte("1")}}
	if got := f.entry(t, "f").Xattrs; !cmp.Equal(got, want) {
		t.Errorf("recorded xattrs of f = %q, want %q", got, want)
	}
	want = []merkle.Xattr{{Name: "security.capability", Value: capV2()}}
	if got := f.entry(t, "x").Xattrs; !cmp.Equal(got, want) {
		t.Errorf("recorded xattrs of x = %q, want %q", got, want)
	}
	if e := f.entry(t, "d/a"); !e.HasFlags || e.Flags&fimtest.ImmutableFlag == 0 {
		t.Errorf("recorded flags of d/a = %#x (known %v), want the immutable flag %#x", e.Flags, e.HasFlags, fimtest.ImmutableFlag)
	}
	if e := f.entry(t, "f"); !e.HasFlags || e.Flags&fimtest.ImmutableFlag != 0 {
		t.Errorf("recorded flags of f = %#x (known %v), want known, without %#x", e.Flags, e.HasFlags, fimtest.ImmutableFlag)
	}
}
