package report

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/merkle"
)

// appendSecurity appends the "(security: ...)" note of s: the tags of the
// classification table (alerts.Classify), then the ATT&CK sub-techniques.
func appendSecurity(b []byte, s alerts.Security) []byte {
	if len(s.Tags) == 0 {
		return b
	}
	b = append(b, " (security: "...)
	b = append(b, strings.Join(s.Tags, ", ")...)
	for i, t := range s.Techniques {
		if i == 0 {
			b = append(b, "; ATT&CK "...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, t.SubID...)
	}
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
			if x.Name == alerts.CapabilityXattr {
				names[i] = quote(x.Name) + "=" + capability(x.Value)
			}
		}
		return "[" + strings.Join(names, " ") + "]"
	case merkle.AttrTarget:
		return quote(e.Target)
	case merkle.AttrFlags:
		if !e.HasFlags {
			return "(unknown)"
		}
		return alerts.FormatFlags(e.Flags)
	}
	return "?"
}

// capability returns a security.capability value as getcap prints it,
// quoted as one word, or in hex when it is not a vfs_cap_data value.
func capability(v []byte) string {
	s, err := alerts.FormatCapabilities(v)
	if err != nil {
		return hex.EncodeToString(v)
	}
	return strconv.Quote(s)
}

// Details returns, for a changed entry, one "name: old -> new" text per
// changed attribute, as --verbose prints them (none for a created or
// deleted entry).
func Details(c merkle.Change) []string {
	b := appendDetails(nil, c)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
