package store

import (
	"bytes"
	"strings"
)

// Keys are paths with every '/' turned into a NUL byte, which no file name
// holds. NUL sorts below every other byte, so key order is
// merkle.ComparePaths order and a directory's subtree is contiguous: the
// directory's own key followed by every key that starts with it plus a NUL.

// appendKey appends the key of path to b.
func appendKey(b []byte, path string) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' {
			c = 0
		}
		b = append(b, c)
	}
	return b
}

// keyPath returns the path of key.
func keyPath(key []byte) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, c := range key {
		if c == 0 {
			c = '/'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// childPrefix returns the prefix shared by the keys of everything below dir.
func childPrefix(dir string) []byte {
	if dir == "/" {
		return []byte{0}
	}
	return append(appendKey(nil, dir), 0)
}

// isChild reports whether key is a direct child of the directory whose
// child prefix is prefix.
func isChild(key, prefix []byte) bool {
	return len(key) > len(prefix) && bytes.HasPrefix(key, prefix) &&
		bytes.IndexByte(key[len(prefix):], 0) < 0
}

// subtreeEnd returns the smallest key after key's whole subtree.
func subtreeEnd(key []byte) []byte {
	return append(bytes.Clone(key), 1)
}
