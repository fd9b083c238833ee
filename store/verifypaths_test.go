package store

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyPathsAsVerifyPath: on an intact baseline and after each kind
// of tampering, VerifyPaths of a set of paths (siblings, absent paths
// below recorded and absent directories, the root, a file as a parent)
// fails exactly when VerifyPath of one of them does, with ErrTampered or
// ErrCorrupt as it does.
func TestVerifyPathsAsVerifyPath(t *testing.T) {
	sets := map[string][]string{
		"siblings":                    {"/etc/hosts", "/etc/passwd", "/etc/shadow", "/etc/localtime"},
		"siblings and their dir":      {"/etc", "/etc/hosts", "/etc/passwd"},
		"absent below recorded":       {"/etc/new1", "/etc/new2", "/usr/new"},
		"absent below absent":         {"/opt/a/b", "/opt/a/c", "/opt/d"},
		"below a file":                {"/etc-old/x", "/etc-old/y"},
		"root and top":                {"/", "/etc-old", "/usr"},
		"one of each":                 {"/usr/ping", "/usr/tty", "/etc/empty", "/etc/empty/x"},
		"a directory's children only": {"/etc/empty/a", "/etc/empty/b"},
		"a directory among siblings":  {"/etc/empty", "/etc/hosts"},
	}
	tamperings := map[string]func(recs, *bolt.Bucket) error{
		"none":                func(recs, *bolt.Bucket) error { return nil },
		"content hash":        flipHashByte("/etc/passwd"),
		"content hash at top": flipHashByte("/etc-old"),
		"record deleted":      func(e recs, _ *bolt.Bucket) error { return e.Delete(appendKey(nil, "/etc/hosts")) },
		"record added": func(e recs, _ *bolt.Bucket) error {
			return e.Put(appendKey(nil, "/etc/new1"), appendRecord(nil, fileEntry("/etc/new1", 66), nil))
		},
		"record added below an absent directory": func(e recs, _ *bolt.Bucket) error {
			return e.Put(appendKey(nil, "/opt/a/b"), appendRecord(nil, fileEntry("/opt/a/b", 66), nil))
		},
		"record added below a file": func(e recs, _ *bolt.Bucket) error {
			return e.Put(appendKey(nil, "/etc-old/x"), appendRecord(nil, fileEntry("/etc-old/x", 66), nil))
		},
		"mode changed": func(e recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/usr/ping")
			en, _, err := decodeRecord("/usr/ping", e.Get(k))
			if err != nil {
				return err
			}
			en.Perm |= 0o4000
			return e.Put(k, appendRecord(nil, en, nil))
		},
		"directory node hash": func(e recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/etc/empty")
			en, node, err := decodeRecord("/etc/empty", e.Get(k))
			if err != nil {
				return err
			}
			node[0] ^= 1
			return e.Put(k, appendRecord(nil, en, &node))
		},
		"record truncated": func(e recs, _ *bolt.Bucket) error {
			k := appendKey(nil, "/etc/passwd")
			v := e.Get(k)
			return e.Put(k, append([]byte(nil), v[:len(v)-1]...))
		},
	}
	for tname, fn := range tamperings {
		path, info := closedBaseline(t)
		tamper(t, path, info.ID, fn)
		db, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		cur, err := db.Current()
		if err != nil {
			t.Fatal(err)
		}
		for sname, set := range sets {
			var one error
			for _, p := range set {
				one = errors.Join(one, cur.VerifyPath(p))
			}
			all := cur.VerifyPaths(set)
			// VerifyPath recomputes a directory's node hash from its
			// children and so passes a forged stored one, which the
			// scoped read's Verifier catches; VerifyPaths, proving the
			// directory with its siblings through their parent, catches
			// it itself.
			extra := tname == "directory node hash" && sname == "a directory among siblings"
			for _, kind := range []error{ErrTampered, ErrCorrupt} {
				if errors.Is(all, kind) != (errors.Is(one, kind) || extra && kind == ErrTampered) {
					t.Errorf("tampering %q, paths %s %v: VerifyPaths = %v; VerifyPath of each = %v", tname, sname, set, all, one)
				}
			}
			if (all == nil) != (one == nil && !extra) {
				t.Errorf("tampering %q, paths %s %v: VerifyPaths = %v; VerifyPath of each = %v", tname, sname, set, all, one)
			}
		}
		if tname != "none" && cur.VerifyPaths(slicesOf(sets)) == nil {
			t.Errorf("tampering %q: VerifyPaths of every set's paths = nil, want an error", tname)
		}
		db.Close()
	}
}

// slicesOf returns every path of sets.
func slicesOf(sets map[string][]string) []string {
	var out []string
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}
