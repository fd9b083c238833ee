package store

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"vigil/merkle"
)

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		path string
		key  string
	}{
		{"/", "\x00"},
		{"/a", "\x00a"},
		{"/a/b", "\x00a\x00b"},
		{"/a-b/c d", "\x00a-b\x00c d"},
		{"/\x01\xff", "\x00\x01\xff"},
	}
	for _, tt := range tests {
		if got := appendKey([]byte("pre"), tt.path); string(got) != "pre"+tt.key {
			t.Errorf("appendKey(pre, %q) = %q, want %q", tt.path, got, "pre"+tt.key)
		}
		if got := keyPath([]byte(tt.key)); got != tt.path {
			t.Errorf("keyPath(%q) = %q, want %q", tt.key, got, tt.path)
		}
	}
}

// randomPath returns a clean absolute path from names that collide around
// '/' and around the NUL and 0x01 bytes of the key encoding.
func randomPath(r *rand.Rand) string {
	names := []string{"a", "b", "a-b", "a0", "ab", "\x01", "a\x01", "\x02", "\xff", "a b"}
	n := r.IntN(5)
	if n == 0 {
		return "/"
	}
	var sb strings.Builder
	for range n {
		sb.WriteByte('/')
		sb.WriteString(names[r.IntN(len(names))])
	}
	return sb.String()
}

// TestKeyOrder checks that byte order of keys is merkle.ComparePaths order
// and that keys round-trip.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		a, b := randomPath(r), randomPath(r)
		ka, kb := appendKey(nil, a), appendKey(nil, b)
		if got, want := bytes.Compare(ka, kb), merkle.ComparePaths(a, b); got != want {
			t.Fatalf("bytes.Compare(key(%q), key(%q)) = %d, ComparePaths = %d; want equal", a, b, got, want)
		}
		if got := keyPath(ka); got != a {
			t.Fatalf("keyPath(appendKey(%q)) = %q", a, got)
		}
	}
}

func TestChildPrefix(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"/", "\x00"},
		{"/a", "\x00a\x00"},
		{"/a/b", "\x00a\x00b\x00"},
	}
	for _, tt := range tests {
		if got := childPrefix(tt.dir); string(got) != tt.want {
			t.Errorf("childPrefix(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestIsChild(t *testing.T) {
	tests := []struct {
		name string
		path string
		dir  string
		want bool
	}{
		{"child", "/a/b", "/a", true},
		{"grandchild", "/a/b/c", "/a", false},
		{"the dir itself", "/a", "/a", false},
		{"dash sibling", "/a-b", "/a", false},
		{"name prefix", "/ab", "/a", false},
		{"child of root", "/a", "/", true},
		{"grandchild of root", "/a/b", "/", false},
		{"root of root", "/", "/", false},
		{"child named 0x01", "/a/\x01", "/a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isChild(appendKey(nil, tt.path), childPrefix(tt.dir)); got != tt.want {
				t.Errorf("isChild(key(%q), childPrefix(%q)) = %v, want %v", tt.path, tt.dir, got, tt.want)
			}
		})
	}
}

// TestSubtreeEnd checks that subtreeEnd(k) is above every key of k's subtree
// and at or below every key after it. The root is left out: its key is the
// bare separator, so its children's keys do not start with key+NUL, and
// subtreeEnd(key("/")) is not past its subtree (no caller passes the root).
func TestSubtreeEnd(t *testing.T) {
	if got := subtreeEnd([]byte("\x00a")); string(got) != "\x00a\x01" {
		t.Errorf("subtreeEnd(key(/a)) = %q, want %q", got, "\x00a\x01")
	}
	k := []byte("\x00a")
	if end := subtreeEnd(k); &end[0] == &k[0] {
		t.Errorf("subtreeEnd shares memory with its argument")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 20000 {
		dir, p := randomPath(r), randomPath(r)
		if dir == "/" {
			continue
		}
		kd, kp := appendKey(nil, dir), appendKey(nil, p)
		end := subtreeEnd(kd)
		switch {
		case merkle.Within(p, dir) && bytes.Compare(kp, end) >= 0:
			t.Fatalf("key(%q) = %q inside %q's subtree is not below subtreeEnd %q", p, kp, dir, end)
		case !merkle.Within(p, dir) && bytes.Compare(kp, kd) > 0 && bytes.Compare(kp, end) < 0:
			t.Fatalf("key(%q) = %q after %q's subtree is below subtreeEnd %q", p, kp, dir, end)
		}
	}
}
