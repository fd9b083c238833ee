package scanner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
)

// testFS returns a fresh directory on each filesystem the listing tests
// run on: the test's temporary directory (whatever it is), and loop-mounted
// ext4 and btrfs, whose ends of listing [listEnd] knows.
func testFS() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"tempdir": func(t *testing.T) string { return t.TempDir() },
		"ext4":    func(t *testing.T) string { return fimtest.LoopFS(t, "ext4", 64<<20, "") },
		"btrfs":   func(t *testing.T) string { return fimtest.LoopFS(t, "btrfs", 128<<20, "") },
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadDirEnd: a directory is listed whole, in one batch or in many
// (3,000 names of 40 bytes are some 170 KiB of records, the buffer 64 KiB),
// and on ext4 and btrfs the last batch is known to be the last: the read
// that would return nothing is not made. An empty directory costs one read.
func TestReadDirEnd(t *testing.T) {
	t.Parallel()
	for fsName, mk := range testFS() {
		t.Run(fsName, func(t *testing.T) {
			t.Parallel()
			root := mk(t)
			for _, n := range []int{0, 3, 3000} {
				dir := filepath.Join(root, fmt.Sprint(n))
				check(t, os.Mkdir(dir, 0o755))
				var want []string
				for i := range n {
					name := fmt.Sprintf("%039d%c", i, 'a'+i%26)
					want = append(want, name)
					check(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
				}
				slices.Sort(want)
				fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				check(t, err)
				var st unix.Stat_t
				check(t, unix.Fstat(fd, &st))
				l := &lister{buf: make([]byte, 64<<10)}
				end := listEnd(l.fsType(fd, st.Dev), st.Size, &l.names)
				batches, proven := 0, false
				err = l.readDir(fd, func(last int64) bool {
					batches++
					proven = end != nil && end(last)
					return proven
				})
				unix.Close(fd)
				check(t, err)
				var got []string
				for i := range l.names.len() {
					got = append(got, string(l.names.at(i).name))
				}
				if !slices.Equal(got, want) {
					t.Fatalf("readDir(%s) listed %d names, want the %d made", dir, len(got), len(want))
				}
				known := fsName == "ext4" || fsName == "btrfs"
				if n > 0 && known && !proven {
					t.Errorf("readDir(%s): the end of %d names in %d batches was not proven on %s", dir, n, batches, fsName)
				}
				if n == 3000 && batches < 2 {
					t.Errorf("readDir(%s): %d batches, want several", dir, batches)
				}
				t.Logf("%s: %d names in %d batches, end proven: %v", fsName, n, batches, proven)
			}
		})
	}
}

// TestListEndBtrfsSize: on btrfs the end position is believed only where
// the names read add up to the directory's size: a listing that is short
// of a name, or a size read before a name was added, is read on.
func TestListEndBtrfsSize(t *testing.T) {
	var names dirNames
	check(t, names.add(unix.DT_REG, []byte("abc")))
	check(t, names.add(unix.DT_REG, []byte("de")))
	end := listEnd(btrfsMagic, 10, &names)
	for _, tt := range []struct {
		last int64
		want bool
	}{{1<<31 - 1, true}, {1<<63 - 1, true}, {7, false}, {1 << 31, false}} {
		if got := end(tt.last); got != tt.want {
			t.Errorf("end(%d) with names of 5 bytes and size 10 = %v, want %v", tt.last, got, tt.want)
		}
	}
	if listEnd(btrfsMagic, 12, &names)(1<<31 - 1) {
		t.Errorf("end(INT_MAX) with names of 5 bytes and size 12 = true, want false")
	}
	if listEnd(ext4Magic, 0, &names)(1<<31-1) || !listEnd(ext4Magic, 0, &names)(1<<63-1) {
		t.Errorf("ext4's end is LLONG_MAX alone")
	}
	if listEnd(0x01021994, 0, &names) != nil {
		t.Errorf("listEnd(tmpfs) is not nil: nothing proves a tmpfs listing whole")
	}
}

// TestBindDir: a directory opened from its parent is proven the inode its
// lstat found by its file handle, whose generation is FS_IOC_GETVERSION's,
// and the fstat is not made; one replaced or mounted over since the lstat
// is not bound, and the fstat says what was opened.
func TestBindDir(t *testing.T) {
	fimtest.NeedRoot(t, "bind-mounts a directory inside the test's own")
	t.Parallel()
	for fsName, mk := range testFS() {
		t.Run(fsName, func(t *testing.T) {
			t.Parallel()
			root := mk(t)
			for _, tt := range []struct {
				name   string
				change func(t *testing.T, d, other string)
				bound  bool
			}{
				{name: "unchanged", change: func(*testing.T, string, string) {}, bound: true},
				{name: "replaced", change: func(t *testing.T, d, _ string) {
					check(t, os.Rename(d, d+".old"))
					check(t, os.Mkdir(d, 0o755))
				}},
				{name: "mounted over", change: func(t *testing.T, d, other string) {
					check(t, unix.Mount(other, d, "", unix.MS_BIND, ""))
					t.Cleanup(func() { check(t, unix.Unmount(d, 0)) })
				}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					base := filepath.Join(root, strings.ReplaceAll(tt.name, " ", "-"))
					d, other := filepath.Join(base, "d"), filepath.Join(base, "other")
					check(t, os.MkdirAll(d, 0o755))
					check(t, os.Mkdir(other, 0o755))
					var st unix.Stat_t
					check(t, unix.Lstat(d, &st))
					e := merkle.Entry{Path: d, Attrs: merkle.AttrFlags | merkle.AttrXattrs}
					fillStat(&e, &st, 0)
					gen, genOK := genOf(t, d)
					tt.change(t, d, other)

					pfd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
					check(t, err)
					var pst unix.Stat_t
					check(t, unix.Fstat(pfd, &pst))
					parent := &dirFD{fd: pfd, dev: pst.Dev}
					parent.refs.Store(1) // list releases it
					task := &dirTask{path: d, expect: e, parent: parent, idx: -1, done: make(chan struct{})}
					task.cached = &dirRecord{ino: e.Inode, size: e.Size, mtime: e.Mtime, ctime: e.Ctime, gen: gen, hasGen: genOK}
					out := newLister(&Options{}, nil).list(task)
					if out.err != nil || out.gone {
						t.Fatalf("list(%s) = error %v, gone %v", d, out.err, out.gone)
					}
					var now unix.Stat_t
					check(t, unix.Stat(d, &now))
					if out.bound != tt.bound || out.self.Ino != now.Ino || out.self.Dev != now.Dev {
						t.Errorf("list(%s): bound %v, inode %d dev %d; want bound %v, inode %d dev %d (lstat'ed %d)",
							d, out.bound, out.self.Ino, out.self.Dev, tt.bound, now.Ino, now.Dev, st.Ino)
					}
					fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
					check(t, err)
					defer unix.Close(fd)
					g, ok, err := inodeGen(fd)
					check(t, err)
					if out.bound && (out.gen != g || !out.hasGen || !ok) {
						t.Errorf("list(%s): generation %d (has one: %v), FS_IOC_GETVERSION says %d (%v)", d, out.gen, out.hasGen, g, ok)
					}
				})
			}
		})
	}
}

// TestBindFile: a file lstat'ed and opened from its directory is proven the
// lstat'ed inode by its file handle (no fstat before the read), hashed, and
// given the generation FS_IOC_GETVERSION gives; one replaced by another
// file, by a FIFO (ext4 gives it the freed inode number at once), or
// mounted over since the lstat is fstat'ed, recorded as what was opened,
// and a FIFO is not read.
func TestBindFile(t *testing.T) {
	fimtest.NeedRoot(t, "bind-mounts a file inside the test's own directory")
	t.Parallel()
	for fsName, mk := range testFS() {
		t.Run(fsName, func(t *testing.T) {
			t.Parallel()
			root := mk(t)
			for _, tt := range []struct {
				name   string
				change func(t *testing.T, f, other string)
				typ    merkle.Type
				hash   string // the content hashed, "" for none
			}{
				{name: "unchanged", change: func(*testing.T, string, string) {}, typ: merkle.TypeFile, hash: "lstat'ed"},
				{name: "replaced", change: func(t *testing.T, f, other string) { check(t, os.Rename(other, f)) },
					typ: merkle.TypeFile, hash: "other"},
				{name: "fifo", change: func(t *testing.T, f, _ string) {
					check(t, os.Remove(f))
					check(t, unix.Mkfifo(f, 0o644))
				}, typ: merkle.TypeFIFO},
				{name: "mounted over", change: func(t *testing.T, f, other string) {
					check(t, unix.Mount(other, f, "", unix.MS_BIND, ""))
					t.Cleanup(func() { check(t, unix.Unmount(f, 0)) })
				}, typ: merkle.TypeFile, hash: "other"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					dir := filepath.Join(root, strings.ReplaceAll(tt.name, " ", "-"))
					check(t, os.Mkdir(dir, 0o755))
					f, other := filepath.Join(dir, "f"), filepath.Join(dir, "other")
					check(t, os.WriteFile(f, []byte("lstat'ed"), 0o644))
					check(t, os.WriteFile(other, []byte("other"), 0o644))
					var st unix.Stat_t
					btime, err := statxAt(unix.AT_FDCWD, f, unix.AT_SYMLINK_NOFOLLOW, &st)
					check(t, err)
					e := &merkle.Entry{Path: f, Attrs: merkle.AttrContent | merkle.AttrFlags | merkle.AttrXattrs}
					fillStat(e, &st, btime)
					rec := *e
					rec.Gen, rec.HasGen = genOf(t, f)
					tt.change(t, f, other)

					dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
					check(t, err)
					var dst unix.Stat_t
					check(t, unix.Fstat(dfd, &dst))
					d := &dirFD{fd: dfd, dev: dst.Dev}
					d.refs.Store(1) // the job releases it
					j := &job{e: e, dir: d, hash: true, done: make(chan struct{}), sampled: &rec}
					newHasher(&Options{}).do(t.Context(), j)
					if j.err != nil || j.gone {
						t.Fatalf("hashing %s: error %v, gone %v", f, j.err, j.gone)
					}
					var now unix.Stat_t
					check(t, unix.Stat(f, &now))
					if e.Type != tt.typ || e.Inode != now.Ino {
						t.Errorf("%s recorded as %v inode %d, want %v inode %d", f, e.Type, e.Inode, tt.typ, now.Ino)
					}
					if tt.hash == "" {
						if e.HashState == merkle.HashOK {
							t.Errorf("%s: a FIFO was hashed", f)
						}
						return
					}
					if want := blake3Of(tt.hash); e.HashState != merkle.HashOK || e.Hash != want {
						t.Errorf("%s hashed %v %x, want the hash of %q", f, e.HashState, e.Hash, tt.hash)
					}
					fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
					check(t, err)
					defer unix.Close(fd)
					g, ok, err := inodeGen(fd)
					check(t, err)
					var fst unix.Stat_t
					fbtime, err := fstatx(fd, &fst)
					check(t, err)
					if e.Btime != fbtime || e.HasGen && e.Gen != g || !e.HasGen && (fbtime == 0 || tt.name == "unchanged") {
						t.Errorf("%s: birth time %d, generation %d (%v); the file's are %d and %d (%v)",
							f, e.Btime, e.Gen, e.HasGen, fbtime, g, ok)
					}
				})
			}
		})
	}
}

// genOf returns path's generation as FS_IOC_GETVERSION gives it.
func genOf(t *testing.T, path string) (uint64, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	check(t, err)
	defer unix.Close(fd)
	g, ok, err := inodeGen(fd)
	check(t, err)
	return g, ok
}

func blake3Of(s string) [32]byte { return blake3.Sum256([]byte(s)) }
