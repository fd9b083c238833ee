package store

import (
	"bytes"
	"encoding/binary"
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
	writeKeyPath(&b, key)
	return b.String()
}

// writeKeyPath writes the path of key to b, a name at a time: copying
// runs of bytes is several times faster than a byte at a time.
func writeKeyPath(b *strings.Builder, key []byte) {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			b.Write(key)
			return
		}
		b.Write(key[:i])
		b.WriteByte('/')
		key = key[i+1:]
	}
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

// Records are kept in versions: the key of a path's version written by
// baseline id is the path's key, two NUL bytes and id (8 bytes, big-endian).
// No name starts with NUL, so a path's versions sort together, oldest
// first, after the path's own key and before its first child's.
const verSuffix = 10

// verKeyOf returns the version key for a path key.
func verKeyOf(pk []byte, id uint64) []byte {
	b := make([]byte, 0, len(pk)+verSuffix)
	b = append(append(b, pk...), 0, 0)
	return binary.BigEndian.AppendUint64(b, id)
}

// splitVerKey splits a version key into its path key and baseline id; ok
// is false for a key of another form.
func splitVerKey(k []byte) (pk []byte, id uint64, ok bool) {
	n := len(k) - verSuffix
	if n < 1 || k[n] != 0 || k[n+1] != 0 {
		return nil, 0, false
	}
	return k[:n], binary.BigEndian.Uint64(k[n+2:]), true
}

// afterVersions returns the smallest key after every version of pk and
// before its subtree.
func afterVersions(pk []byte) []byte {
	return append(append(make([]byte, 0, len(pk)+2), pk...), 0, 1)
}

// journalKey is the key under which baseline id notes that it wrote a
// version of pk.
func journalKey(id uint64, pk []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(pk)), id), pk...)
}
