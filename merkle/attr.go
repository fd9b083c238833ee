package merkle

import (
	"fmt"
	"strings"
)

// Attr is a set of file attributes, used both for what a rule monitors and for
// what differs between two entries. Test membership with [Attr.Has].
type Attr uint32

// The attributes vigil records. Their names (see [Attr.Names]) are the ones
// used in configuration files and in the vigil.changed field of reports.
const (
	AttrContent Attr = 1 << iota // file content hash; a device node's device number
	AttrType                     // file type
	AttrMode                     // permission bits incl. setuid, setgid, sticky
	AttrUID                      // owner
	AttrGID                      // group
	AttrSize                     // size in bytes
	AttrMtime                    // modification time (ns)
	AttrCtime                    // inode change time (ns)
	AttrInode                    // inode number
	AttrNlink                    // hard link count
	AttrXattrs                   // extended attributes, names and values
	AttrTarget                   // symlink target
	AttrFlags                    // inode flags (chattr)

	attrEnd
	// AttrAll is every attribute.
	AttrAll = attrEnd - 1
)

var attrNames = [...]string{
	"content", "type", "mode", "uid", "gid", "size", "mtime", "ctime",
	"inode", "nlink", "xattrs", "target", "flags",
}

// Has reports whether a contains every attribute of b.
func (a Attr) Has(b Attr) bool { return a&b == b }

// Names lists the attributes in a, in declaration order.
func (a Attr) Names() []string {
	var out []string
	for i, n := range attrNames {
		if a.Has(1 << i) {
			out = append(out, n)
		}
	}
	return out
}

// String returns the names joined by commas.
func (a Attr) String() string { return strings.Join(a.Names(), ",") }

// ParseAttr returns the attribute called name, or "all" for [AttrAll].
func ParseAttr(name string) (Attr, error) {
	if name == "all" {
		return AttrAll, nil
	}
	for i, n := range attrNames {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown attribute %q (want one of %s, all)", name, strings.Join(attrNames[:], ", "))
}
