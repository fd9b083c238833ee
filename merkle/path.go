package merkle

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// ComparePaths orders two clean absolute paths so that every directory is
// followed directly by its whole subtree: it compares byte by byte with '/'
// ranked below every other byte. Plain byte order does not have that property
// ("/a-b" sorts between "/a" and "/a/b"). It returns -1, 0 or +1.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	if n >= 8 {
		// Past the long prefix most paths compared share, eight bytes at a
		// time (a check compares several times per entry); the strings'
		// bytes are read, never written.
		pa := unsafe.Slice(unsafe.StringData(a), n)
		pb := unsafe.Slice(unsafe.StringData(b), n)
		for i+8 <= n && binary.LittleEndian.Uint64(pa[i:]) == binary.LittleEndian.Uint64(pb[i:]) {
			i += 8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
	ca, cb := a[i], b[i]
	if ca == '/' {
		ca = 0
	}
	if cb == '/' {
		cb = 0
	}
	if ca < cb {
		return -1
	}
	return 1
}

// Parent returns the directory holding p ("" for "/").
func Parent(p string) string {
	if p == "/" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// Within reports whether p is dir or lies below it.
func Within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || (strings.HasPrefix(p, dir) && p[len(dir)] == '/')
}

// Join returns dir/name for a clean absolute dir.
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// ValidPath reports whether p is absolute and clean: it starts with '/', has
// no empty, "." or ".." elements, no trailing slash (but for "/") and no NUL.
func ValidPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' || strings.IndexByte(p, 0) >= 0 {
		return false
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// Outermost returns paths in [ComparePaths] order without those that lie
// in another of them (and without repeats).
func Outermost(paths []string) []string {
	s := slices.Clone(paths)
	slices.SortFunc(s, ComparePaths)
	var out []string
	for _, p := range s {
		if len(out) > 0 && Within(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}
