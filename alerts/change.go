package alerts

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"vigil/merkle"
)

// ECS event.type values for each action.
var eventTypes = map[merkle.Action]string{
	merkle.Created:            "creation",
	merkle.Deleted:            "deletion",
	merkle.Updated:            "change",
	merkle.AttributesModified: "change",
	merkle.Moved:              "change",
}

// FromChange returns the event reporting c, seen on host at now. For created
// the file fields describe c.New, for deleted c.Old; for the other actions
// they describe c.New and vigil.previous holds c.Old.
func FromChange(c merkle.Change, host string, now time.Time) Event {
	typ, ok := eventTypes[c.Action]
	if !ok {
		typ = "info"
	}
	ev := newEvent("event", c.Action.String(), []string{typ}, host, now)
	cur := c.New
	if c.Action == merkle.Deleted || cur == nil {
		cur = c.Old
	}
	v := &Vigil{Changed: c.Changed.Names()}
	if cur == nil {
		ev.File = &File{}
		ev.File.Path, v.PathBase64 = text(c.Path)
		ev.setVigil(v)
		return ev
	}
	ev.File, v.FileExtra = describe(cur)
	if cur.Err != "" {
		ev.Error = &ErrorInfo{Message: cur.Err}
	}
	if c.Old != nil && c.New != nil && c.Action != merkle.Created && c.Action != merkle.Deleted {
		v.Previous = previous(c.Old, c.New)
	}
	sec := Classify(c)
	v.Security, v.Accounts = sec.Tags, sec.Accounts
	ev.Threat = newThreat(sec.Techniques)
	ev.setVigil(v)
	return ev
}

// previous describes old, the earlier state of cur; the path is left out
// when it did not change.
func previous(old, cur *merkle.Entry) *Previous {
	f, x := describe(old)
	if old.Path == cur.Path {
		f.Path, x.PathBase64 = "", ""
	}
	return &Previous{File: *f, FileExtra: x}
}

// describe returns the file fields and vigil extras of e.
func describe(e *merkle.Entry) (*File, FileExtra) {
	var x FileExtra
	f := &File{Type: e.Type.String()}
	f.Path, x.PathBase64 = text(e.Path)
	if e.Target != "" {
		f.TargetPath, x.TargetPathBase64 = text(e.Target)
	}
	if e.Type == merkle.TypeUnknown && e.Err != "" {
		return f, x // lstat failed: nothing else is known
	}
	size := e.Size
	f.Mode = fmt.Sprintf("%04o", e.Perm)
	f.UID = strconv.FormatUint(uint64(e.UID), 10)
	f.GID = strconv.FormatUint(uint64(e.GID), 10)
	f.Size = &size
	f.Mtime = time.Unix(0, e.Mtime).UTC()
	f.Ctime = time.Unix(0, e.Ctime).UTC()
	if e.Inode != 0 {
		f.Inode = strconv.FormatUint(e.Inode, 10)
	}
	switch e.HashState {
	case merkle.HashOK:
		f.Hash = &FileHash{BLAKE3: hex.EncodeToString(e.Hash[:])}
	case merkle.HashNone:
	default:
		x.HashState = e.HashState.String()
	}
	if len(e.Xattrs) > 0 {
		x.Xattrs = make(map[string]string, len(e.Xattrs))
		for _, a := range e.Xattrs {
			name, _ := text(a.Name)
			x.Xattrs[name] = base64.StdEncoding.EncodeToString(a.Value)
		}
		if v, ok := xattr(e, CapabilityXattr); ok {
			x.Capabilities = capabilityText(v)
		}
	}
	if e.HasFlags {
		x.Flags = fmt.Sprintf("0x%08x", e.Flags)
		x.FlagsText = FormatFlags(e.Flags)
	}
	x.Nlink = e.Nlink
	if e.Type == merkle.TypeCharDev || e.Type == merkle.TypeBlockDev {
		x.Rdev = e.Rdev
	}
	return f, x
}

// text returns s in a form a JSON string can carry. When s is valid UTF-8 it
// is returned as is and exact is empty. Otherwise readable is s with each
// invalid byte replaced by U+FFFD and exact holds the bytes of s in standard
// base64.
func text(s string) (readable, exact string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s { // ranging yields U+FFFD for each invalid byte
		b.WriteRune(r)
	}
	return b.String(), base64.StdEncoding.EncodeToString([]byte(s))
}

// ScanError returns the event reporting that path could not be checked
// because of err.
func ScanError(path string, err error, host string, now time.Time) Event {
	ev := newEvent("event", "scan_error", []string{"info"}, host, now)
	ev.Event.Outcome = "failure"
	v := &Vigil{}
	ev.File = &File{}
	ev.File.Path, v.PathBase64 = text(path)
	if err != nil {
		ev.Error = &ErrorInfo{Message: err.Error()}
	}
	ev.setVigil(v)
	return ev
}

// capabilityText returns v as getcap prints it, or "(invalid)".
func capabilityText(v []byte) string {
	s, err := FormatCapabilities(v)
	if err != nil {
		return "(invalid)"
	}
	return s
}
