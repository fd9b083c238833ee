package report

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vigil/merkle"
)

// capabilityXattr holds a file's capabilities (setcap).
const capabilityXattr = "security.capability"

// security returns what makes c matter for privilege, or nil: a setuid or
// setgid bit that appears, file capabilities that appear or change, a new
// owner or group of an executable, a new executable, the content of a
// setuid or setgid program.
func security(c merkle.Change) []string {
	n, o := c.New, c.Old
	if n == nil || c.Action == merkle.Deleted || n.Type != merkle.TypeFile {
		return nil
	}
	var out []string
	if o == nil || c.Action == merkle.Created || c.Action == merkle.Moved {
		o = nil
	}
	bit := func(e *merkle.Entry, m uint32) bool { return e != nil && e.Perm&m != 0 }
	if bit(n, 0o4000) && !bit(o, 0o4000) {
		out = append(out, "setuid")
	}
	if bit(n, 0o2000) && !bit(o, 0o2000) {
		out = append(out, "setgid")
	}
	if nc, ok := xattr(n, capabilityXattr); ok {
		if oc, had := xattr(o, capabilityXattr); !had || !bytes.Equal(oc, nc) {
			out = append(out, "file capabilities")
		}
	}
	exec := bit(n, 0o111)
	switch {
	case exec && o == nil:
		out = append(out, "new executable")
	case exec && !bit(o, 0o111):
		out = append(out, "made executable")
	case exec && c.Changed&(merkle.AttrUID|merkle.AttrGID) != 0:
		out = append(out, "owner of an executable")
	}
	if o != nil && bit(n, 0o6000) && c.Changed.Has(merkle.AttrContent) {
		out = append(out, "setuid/setgid program rewritten")
	}
	return out
}

func xattr(e *merkle.Entry, name string) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	for _, x := range e.Xattrs {
		if x.Name == name {
			return x.Value, true
		}
	}
	return nil, false
}

// appendSecurity appends the "(security: ...)" note of tags.
func appendSecurity(b []byte, tags []string) []byte {
	if len(tags) == 0 {
		return b
	}
	b = append(b, " (security: "...)
	b = append(b, strings.Join(tags, ", ")...)
	return append(b, ')')
}

// appendDetails appends one indented "name: old -> new" line per changed
// attribute of a changed entry (for --verbose, as AIDE's detail block).
func appendDetails(b []byte, c merkle.Change) []byte {
	if c.Old == nil || c.New == nil || c.Action == merkle.Created || c.Action == merkle.Deleted {
		return b
	}
	o, n := c.Old, c.New
	for bit := merkle.Attr(1); bit < merkle.AttrAll+1; bit <<= 1 {
		if !c.Changed.Has(bit) {
			continue
		}
		ov, nv := attrValue(o, bit), attrValue(n, bit)
		b = fmt.Appendf(b, "    %-8s %s -> %s\n", bit.String(), ov, nv)
	}
	return b
}

// attrValue renders one attribute of e for people.
func attrValue(e *merkle.Entry, a merkle.Attr) string {
	switch a {
	case merkle.AttrContent:
		if e.HashState == merkle.HashSkipped || e.HashState == merkle.HashUnstable || e.HashState == merkle.HashFailed {
			return "(hash " + e.HashState.String() + ")"
		}
		if e.Type == merkle.TypeCharDev || e.Type == merkle.TypeBlockDev {
			return strconv.FormatUint(e.Rdev, 10)
		}
		if e.HashState == merkle.HashNone {
			return "(none)"
		}
		return hex.EncodeToString(e.Hash[:8]) + "…"
	case merkle.AttrType:
		return e.Type.String()
	case merkle.AttrMode:
		return fmt.Sprintf("%04o", e.Perm)
	case merkle.AttrUID:
		return strconv.FormatUint(uint64(e.UID), 10)
	case merkle.AttrGID:
		return strconv.FormatUint(uint64(e.GID), 10)
	case merkle.AttrSize:
		return strconv.FormatInt(e.Size, 10)
	case merkle.AttrMtime:
		return time.Unix(0, e.Mtime).UTC().Format(time.RFC3339Nano)
	case merkle.AttrCtime:
		return time.Unix(0, e.Ctime).UTC().Format(time.RFC3339Nano)
	case merkle.AttrInode:
		return strconv.FormatUint(e.Inode, 10)
	case merkle.AttrNlink:
		return strconv.FormatUint(e.Nlink, 10)
	case merkle.AttrXattrs:
		names := make([]string, len(e.Xattrs))
		for i, x := range e.Xattrs {
			names[i] = quote(x.Name) + "=" + hex.EncodeToString(x.Value)
		}
		return "[" + strings.Join(names, " ") + "]"
	case merkle.AttrTarget:
		return quote(e.Target)
	case merkle.AttrFlags:
		if !e.HasFlags {
			return "(unknown)"
		}
		return fmt.Sprintf("0x%08x", e.Flags)
	}
	return "?"
}
