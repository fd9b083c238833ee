package merkle_test

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the entries in vectors_test.go")

// vectorFiles holds the known-answer vectors of each hash scheme: v1's are
// kept to verify databases before their migration.
var vectorFiles = map[merkle.Version]string{
	merkle.V1: "testdata/vectors.json",
	merkle.V2: "testdata/vectors-v2.json",
}

func leafHash(v merkle.Version, e *merkle.Entry) merkle.Hash {
	if v == merkle.V1 {
		h, _ := merkle.LeafHashV1(e, nil)
		return h
	}
	h, _ := merkle.LeafHash(e, nil)
	return h
}

// The known-answer vectors freeze the encoding of leaf and directory
// hashes. A failure of TestVectors means the format changed: bump the
// domain tags in hash.go and regenerate with -update, never the other way
// round.
type vectors struct {
	Comment string       `json:"comment"`
	Leaves  []leafVector `json:"leaves"`
	Tree    treeVector   `json:"tree"`
}

type leafVector struct {
	Name  string      `json:"name"`
	Entry vectorEntry `json:"entry"`
	Hash  string      `json:"leaf_hash"`
}

type treeVector struct {
	// Entries in ComparePaths order.
	Entries []vectorEntry `json:"entries"`
	// Nodes in the order a Builder emits them (post-order).
	Nodes []nodeVector `json:"nodes"`
	Root  string       `json:"root"`
}

type nodeVector struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
}

// vectorEntry is an Entry as written in the vectors file: numbers for the
// enumerations (as encoded), hex for bytes.
type vectorEntry struct {
	Path      string        `json:"path"`
	Type      uint8         `json:"type"`
	Perm      uint32        `json:"perm"`
	UID       uint32        `json:"uid"`
	GID       uint32        `json:"gid"`
	Size      int64         `json:"size"`
	Mtime     int64         `json:"mtime"`
	Ctime     int64         `json:"ctime"`
	Inode     uint64        `json:"inode"`
	Nlink     uint64        `json:"nlink"`
	Dev       uint64        `json:"dev"`
	Rdev      uint64        `json:"rdev"`
	Target    string        `json:"target,omitempty"`
	Xattrs    []vectorXattr `json:"xattrs,omitempty"`
	Flags     uint32        `json:"flags"`
	HasFlags  bool          `json:"has_flags"`
	Hash      string        `json:"hash"`
	HashState uint8         `json:"hash_state"`
	HashedAt  int64         `json:"hashed_at"`
	Attrs     uint32        `json:"attrs"`
	Err       string        `json:"err,omitempty"`
}

type vectorXattr struct {
	Name  string `json:"name"`
	Value string `json:"value"` // hex
}

func toVector(e *merkle.Entry) vectorEntry {
	v := vectorEntry{
		Path: e.Path, Type: uint8(e.Type), Perm: e.Perm, UID: e.UID, GID: e.GID, Size: e.Size,
		Mtime: e.Mtime, Ctime: e.Ctime, Inode: e.Inode, Nlink: e.Nlink, Dev: e.Dev, Rdev: e.Rdev,
		Target: e.Target, Flags: e.Flags, HasFlags: e.HasFlags, Hash: hex.EncodeToString(e.Hash[:]),
		HashState: uint8(e.HashState), HashedAt: e.HashedAt, Attrs: uint32(e.Attrs), Err: e.Err,
	}
	for _, x := range e.Xattrs {
		v.Xattrs = append(v.Xattrs, vectorXattr{Name: x.Name, Value: hex.EncodeToString(x.Value)})
	}
	return v
}

func (v vectorEntry) entry(t *testing.T) *merkle.Entry {
	t.Helper()
	e := &merkle.Entry{
		Path: v.Path, Type: merkle.Type(v.Type), Perm: v.Perm, UID: v.UID, GID: v.GID, Size: v.Size,
		Mtime: v.Mtime, Ctime: v.Ctime, Inode: v.Inode, Nlink: v.Nlink, Dev: v.Dev, Rdev: v.Rdev,
		Target: v.Target, Flags: v.Flags, HasFlags: v.HasFlags, HashState: merkle.HashState(v.HashState),
		HashedAt: v.HashedAt, Attrs: merkle.Attr(v.Attrs), Err: v.Err,
	}
	e.Hash = mustHash(t, v.Hash)
	for _, x := range v.Xattrs {
		val, err := hex.DecodeString(x.Value)
		if err != nil {
			t.Fatalf("%s: xattr %s: %v", v.Path, x.Name, err)
		}
		e.Xattrs = append(e.Xattrs, merkle.Xattr{Name: x.Name, Value: val})
	}
	return e
}

func mustHash(t *testing.T, s string) merkle.Hash {
	t.Helper()
	var h merkle.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		t.Fatalf("bad hash %q in the vectors file (err %v)", s, err)
	}
	copy(h[:], b)
	return h
}

func hexHash(h merkle.Hash) string { return hex.EncodeToString(h[:]) }

// seq returns 32 bytes counting up from b, a recognisable content hash.
func seq(b byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

const t0 = 1_700_000_000_123_456_789 // a time in ns since the epoch

func vectorLeaves() []struct {
	name string
	e    *merkle.Entry
} {
	file := func() *merkle.Entry {
		return &merkle.Entry{
			Path: "/etc/passwd", Type: merkle.TypeFile, Perm: 0o644, Size: 1234, Mtime: t0, Ctime: t0 + 1,
			Inode: 131, Nlink: 1, Dev: 2049, Hash: seq(1), HashState: merkle.HashOK, HashedAt: t0 + 2,
			Attrs: merkle.AttrAll,
		}
	}
	xattrs := file()
	xattrs.Path, xattrs.Perm = "/usr/bin/ping", 0o4755
	xattrs.Xattrs = []merkle.Xattr{
		{Name: "security.capability", Value: []byte{1, 0, 0, 2, 0, 0x20}},
		{Name: "user.empty", Value: nil},
	}
	xattrs.HasFlags, xattrs.Flags = true, 0x10 // immutable
	restricted := file()
	restricted.Path, restricted.Attrs = "/etc/resolv.conf", merkle.AttrType|merkle.AttrMode|merkle.AttrUID|merkle.AttrGID|merkle.AttrTarget
	skipped := file()
	skipped.Path, skipped.HashState, skipped.Hash, skipped.Size = "/var/big", merkle.HashSkipped, [32]byte{}, 1<<40
	failed := file()
	failed.Path, failed.HashState, failed.Hash, failed.Err = "/etc/shadow", merkle.HashFailed, [32]byte{}, "open: permission denied"
	old := file()
	old.Path, old.Mtime, old.Ctime, old.UID, old.GID = "/old", -1_000_000_000, -1, 1<<32-1, 65534
	return []struct {
		name string
		e    *merkle.Entry
	}{
		{"file", file()},
		{"file with xattrs and flags", xattrs},
		{"restricted attrs", restricted},
		{"hash skipped", skipped},
		{"hash failed", failed},
		{"before the epoch, max uid", old},
		{"symlink", &merkle.Entry{
			Path: "/bin", Type: merkle.TypeSymlink, Perm: 0o777, Size: 7, Mtime: t0, Ctime: t0,
			Inode: 12, Nlink: 1, Dev: 2049, Target: "usr/bin", Attrs: merkle.AttrAll,
		}},
		{"char device", &merkle.Entry{
			Path: "/dev/null", Type: merkle.TypeCharDev, Perm: 0o666, Mtime: t0, Ctime: t0,
			Inode: 5, Nlink: 1, Dev: 5, Rdev: 0x103, Attrs: merkle.AttrAll,
		}},
		{"block device", &merkle.Entry{
			Path: "/dev/sda", Type: merkle.TypeBlockDev, Perm: 0o660, GID: 6, Mtime: t0, Ctime: t0,
			Inode: 300, Nlink: 1, Dev: 5, Rdev: 0x800, Attrs: merkle.AttrAll,
		}},
		{"fifo", &merkle.Entry{
			Path: "/run/initctl", Type: merkle.TypeFIFO, Perm: 0o600, Mtime: t0, Ctime: t0,
			Inode: 77, Nlink: 1, Attrs: merkle.AttrAll,
		}},
	}
}

func vectorTree() []*merkle.Entry {
	dir := func(p string, ino uint64) *merkle.Entry {
		return &merkle.Entry{Path: p, Type: merkle.TypeDir, Perm: 0o755, Size: 4096, Mtime: t0, Ctime: t0,
			Inode: ino, Nlink: 2, Dev: 2049, Attrs: merkle.AttrAll}
	}
	hosts := &merkle.Entry{Path: "/etc/hosts", Type: merkle.TypeFile, Perm: 0o644, Size: 180, Mtime: t0, Ctime: t0,
		Inode: 140, Nlink: 1, Dev: 2049, Hash: seq(7), HashState: merkle.HashOK, Attrs: merkle.AttrAll}
	oldEtc := &merkle.Entry{Path: "/etc-old", Type: merkle.TypeFile, Perm: 0o600, Size: 3, Mtime: t0, Ctime: t0,
		Inode: 141, Nlink: 1, Dev: 2049, Hash: seq(9), HashState: merkle.HashOK,
		Attrs: merkle.AttrType | merkle.AttrMode | merkle.AttrContent}
	return []*merkle.Entry{
		dir("/", 2),
		{Path: "/bin", Type: merkle.TypeSymlink, Perm: 0o777, Size: 7, Mtime: t0, Ctime: t0,
			Inode: 12, Nlink: 1, Dev: 2049, Target: "usr/bin", Attrs: merkle.AttrAll},
		{Path: "/dev-null", Type: merkle.TypeCharDev, Perm: 0o666, Inode: 5, Nlink: 1, Rdev: 0x103, Attrs: merkle.AttrAll},
		dir("/etc", 130),
		hosts,
		dir("/etc/ssl", 150),
		oldEtc,
	}
}

func generateVectors(t *testing.T, ver merkle.Version) vectors {
	v := vectors{Comment: "Known answers for vigil's v1 node hash encoding (merkle.LeafHash, " +
		"merkle.DirHasher, merkle.Builder). A change here is a format change. " +
		"Regenerate with: go test ./merkle -run TestVectors -update"}
	if ver == merkle.V2 {
		v.Comment = "Known answers for vigil's v2 node hash encoding (merkle.LeafHash, " +
			"merkle.DirHasher, merkle.ChildRoot, merkle.Builder). A change here is a format change. " +
			"Regenerate with: go test ./merkle -run TestVectors -update"
	}
	for _, l := range vectorLeaves() {
		h := leafHash(ver, l.e)
		v.Leaves = append(v.Leaves, leafVector{Name: l.name, Entry: toVector(l.e), Hash: hexHash(h)})
	}
	b := merkle.NewBuilderVersion(ver, func(n merkle.Node) error {
		v.Tree.Nodes = append(v.Tree.Nodes, nodeVector{Path: n.Entry.Path, Hash: hexHash(n.Hash)})
		return nil
	})
	for _, e := range vectorTree() {
		v.Tree.Entries = append(v.Tree.Entries, toVector(e))
		if err := b.Add(e); err != nil {
			t.Fatalf("Add(%s): %v", e.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	v.Tree.Root = hexHash(root)
	return v
}

func TestVectors(t *testing.T) {
	for ver, file := range vectorFiles {
		t.Run(file, func(t *testing.T) { testVectors(t, ver, file) })
	}
}

func testVectors(t *testing.T, ver merkle.Version, vectorsFile string) {
	if *update {
		raw, err := json.MarshalIndent(generateVectors(t, ver), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", vectorsFile, err)
	}
	if len(v.Leaves) == 0 || len(v.Tree.Entries) == 0 {
		t.Fatalf("%s holds no vectors", vectorsFile)
	}
	for _, l := range v.Leaves {
		got := leafHash(ver, l.Entry.entry(t))
		if hexHash(got) != l.Hash {
			t.Errorf("leaf %q: LeafHash = %s, want %s", l.Name, hexHash(got), l.Hash)
		}
	}
	var nodes []nodeVector
	b := merkle.NewBuilderVersion(ver, func(n merkle.Node) error {
		nodes = append(nodes, nodeVector{Path: n.Entry.Path, Hash: hexHash(n.Hash)})
		return nil
	})
	for _, ve := range v.Tree.Entries {
		if err := b.Add(ve.entry(t)); err != nil {
			t.Fatalf("tree: Add(%s): %v", ve.Path, err)
		}
	}
	root, err := b.Finish()
	if err != nil {
		t.Fatalf("tree: Finish: %v", err)
	}
	if diff := cmp.Diff(nodes, v.Tree.Nodes); diff != "" {
		t.Errorf("tree: emitted nodes differ (-got +want):\n%s", diff)
	}
	if hexHash(root) != v.Tree.Root {
		t.Errorf("tree: root = %s, want %s", hexHash(root), v.Tree.Root)
	}
}

// TestVectorsCurrent checks that the vectors file still describes the
// entries defined above, so that -update is never needed by accident.
func TestVectorsCurrent(t *testing.T) {
	for ver, file := range vectorFiles {
		t.Run(file, func(t *testing.T) { testVectorsCurrent(t, ver, file) })
	}
}

func testVectorsCurrent(t *testing.T, ver merkle.Version, vectorsFile string) {
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	var got vectors
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: %v", vectorsFile, err)
	}
	if diff := cmp.Diff(got, generateVectors(t, ver)); diff != "" {
		t.Errorf("%s differs from what the current code generates (-file +generated):\n%s", vectorsFile, diff)
	}
}
