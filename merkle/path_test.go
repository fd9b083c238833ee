package merkle_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"vigil/merkle"
)

func TestComparePaths(t *testing.T) {
	// Each row's a sorts strictly before its b.
	tests := []struct {
		name string
		a, b string
	}{
		{"root first", "/", "/a"},
		{"root before deep path", "/", "/a/b/c"},
		{"dir before its child", "/a", "/a/b"},
		{"child before dash sibling", "/a/b", "/a-b"},
		{"dash sibling before digit sibling", "/a-b", "/a0"},
		{"dir before dash sibling", "/a", "/a-b"},
		{"prefix name first", "/a", "/ab"},
		{"subtree before longer sibling", "/a/zzz", "/ab"},
		{"slash below byte 1", "/a/b", "/a\x01"},
		{"slash below space", "/a/b", "/a b"},
		{"plain byte order of names", "/etc/group", "/etc/passwd"},
		{"high bytes after low", "/a", "/\xff"},
		{"deep subtree before next sibling", "/usr/lib/x/y/z", "/usr/lib-x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := merkle.ComparePaths(tt.a, tt.b); got != -1 {
				t.Errorf("ComparePaths(%q, %q) = %d, want -1", tt.a, tt.b, got)
			}
			if got := merkle.ComparePaths(tt.b, tt.a); got != 1 {
				t.Errorf("ComparePaths(%q, %q) = %d, want 1", tt.b, tt.a, got)
			}
		})
	}
	for _, p := range []string{"/", "/a", "/a/b", "/a-b"} {
		if got := merkle.ComparePaths(p, p); got != 0 {
			t.Errorf("ComparePaths(%q, %q) = %d, want 0", p, p, got)
		}
	}
}

// randomPath returns a clean absolute path of up to 4 elements whose names
// come from a tiny alphabet chosen to collide around '/'.
func randomPath(r *rand.Rand) string {
	names := []string{"a", "b", "a-b", "a0", "ab", "a.b", "\x01", "a b", "\xff"}
	var sb strings.Builder
	n := r.IntN(5)
	if n == 0 {
		return "/"
	}
	for range n {
		sb.WriteByte('/')
		sb.WriteString(names[r.IntN(len(names))])
	}
	return sb.String()
}

// TestComparePathsSubtreeContiguous checks the property the store and the
// builder rely on: sorted with ComparePaths, every directory is followed
// directly by its whole subtree.
func TestComparePathsSubtreeContiguous(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		set := map[string]bool{}
		for range 60 {
			set[randomPath(r)] = true
		}
		paths := make([]string, 0, len(set))
		for p := range set {
			paths = append(paths, p)
		}
		slices.SortFunc(paths, merkle.ComparePaths)
		for i, dir := range paths {
			j := i + 1
			for j < len(paths) && merkle.Within(paths[j], dir) {
				j++
			}
			for _, p := range paths[j:] {
				if merkle.Within(p, dir) {
					t.Fatalf("round %d: %q sorts after %q, which is outside %q; sorted: %q", round, p, paths[j], dir, paths)
				}
			}
		}
		for i := 1; i < len(paths); i++ {
			if c := merkle.ComparePaths(paths[i-1], paths[i]); c != -1 {
				t.Fatalf("round %d: ComparePaths(%q, %q) = %d after sorting, want -1", round, paths[i-1], paths[i], c)
			}
		}
	}
}

func TestParent(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/", ""},
		{"/a", "/"},
		{"/a/b", "/a"},
		{"/a/b/c", "/a/b"},
		{"/a-b", "/"},
	}
	for _, tt := range tests {
		if got := merkle.Parent(tt.path); got != tt.want {
			t.Errorf("Parent(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		name   string
		p, dir string
		want   bool
	}{
		{"itself", "/a", "/a", true},
		{"child", "/a/b", "/a", true},
		{"grandchild", "/a/b/c", "/a", true},
		{"everything within root", "/a", "/", true},
		{"root within root", "/", "/", true},
		{"dash sibling", "/a-b", "/a", false},
		{"name prefix", "/ab", "/a", false},
		{"parent", "/a", "/a/b", false},
		{"root within dir", "/", "/a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := merkle.Within(tt.p, tt.dir); got != tt.want {
				t.Errorf("Within(%q, %q) = %v, want %v", tt.p, tt.dir, got, tt.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct{ dir, name, want string }{
		{"/", "a", "/a"},
		{"/a", "b", "/a/b"},
		{"/a/b", "c d", "/a/b/c d"},
	}
	for _, tt := range tests {
		if got := merkle.Join(tt.dir, tt.name); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.dir, tt.name, got, tt.want)
		}
	}
}

func TestValidPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/a", true},
		{"/a/b", true},
		{"/a/.b", true},
		{"/a/..b", true},
		{"/\x01\xff", true},
		{"", false},
		{"a", false},
		{"a/b", false},
		{"//", false},
		{"/a/", false},
		{"/a//b", false},
		{"/.", false},
		{"/a/.", false},
		{"/..", false},
		{"/a/../b", false},
		{"/a\x00b", false},
	}
	for _, tt := range tests {
		if got := merkle.ValidPath(tt.path); got != tt.want {
			t.Errorf("ValidPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestEntryName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/", "/"},
		{"/a", "a"},
		{"/a/b-c", "b-c"},
	}
	for _, tt := range tests {
		e := &merkle.Entry{Path: tt.path}
		if got := e.Name(); got != tt.want {
			t.Errorf("(&Entry{Path: %q}).Name() = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestOutermost(t *testing.T) {
	got := merkle.Outermost([]string{"/etc/ssh", "/usr", "/etc", "/a-b", "/a/b", "/etc/ssh/x", "/usr"})
	want := []string{"/a/b", "/a-b", "/etc", "/usr"}
	if !slices.Equal(got, want) {
		t.Errorf("Outermost = %q, want %q", got, want)
	}
}

// TestComparePathsLong checks ComparePaths, which compares eight bytes at
// a time, against its definition (byte order with '/' below every byte)
// for long paths that differ at every offset, in either byte, by '/' or
// otherwise, or not at all, and for one a prefix of the other.
func TestComparePathsLong(t *testing.T) {
	ref := func(a, b string) int {
		return strings.Compare(strings.ReplaceAll(a, "/", "\x00"), strings.ReplaceAll(b, "/", "\x00"))
	}
	base := "/usr/share/doc/libfoo-dev/changelog.Debian.gz"
	for i := 1; i < len(base); i++ {
		for _, c := range []byte{'/', 0x01, '-', 'a', 'z', 0xff} {
			b := base[:i] + string(c) + base[i+1:]
			for _, p := range [][2]string{{base, b}, {b, base}, {base, base[:i]}, {base[:i], base}, {b, b}} {
				if got, want := merkle.ComparePaths(p[0], p[1]), ref(p[0], p[1]); got != want {
					t.Fatalf("ComparePaths(%q, %q) = %d, want %d", p[0], p[1], got, want)
				}
			}
		}
	}
}
