package engine

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vigil/store"
)

// ParseStatement reads the text [Statement] writes back into the fields of
// a [store.Info] it covers (host, id, parent, creation time, root,
// portable root, roots,
// configuration digest, phase, counts, audit log position, command,
// changes, reason, user, uid, version, snapshots, device counters, posture and Nix tree roots);
// the others stay zero. It accepts only the canonical text: the result
// must give the very same text again, so every value has exactly one
// spelling and a statement means what [Statement] meant by it.
func ParseStatement(text string) (store.Info, error) {
	var in store.Info
	p := &statementParser{lines: strings.Split(text, "\n")}
	if p.next() != statementHeader {
		return in, errors.New("statement: not a vigil baseline statement (want " + statementHeader + ")")
	}
	in.Host = p.quoted("host")
	in.ID = p.uint("baseline")
	in.Parent = p.uint("parent")
	if t := p.field("created"); p.err == nil {
		in.Created, p.err = time.Parse(time.RFC3339Nano, t)
	}
	if r := p.field("root"); p.err == nil {
		b, err := hex.DecodeString(r)
		if err != nil || len(b) != len(in.Root) {
			p.err = fmt.Errorf("bad root %q", r)
		}
		copy(in.Root[:], b)
	}
	if p.has("portable") {
		if r := p.field("portable"); p.err == nil {
			b, err := hex.DecodeString(r)
			if err != nil || len(b) != len(in.PortableRoot) {
				p.err = fmt.Errorf("bad portable root %q", r)
			}
			copy(in.PortableRoot[:], b)
		}
	}
	for p.has("monitored") {
		in.Roots = append(in.Roots, p.quoted("monitored"))
	}
	in.ConfigDigest, in.Phase = p.field("config"), p.field("phase")
	c := &in.Counts
	p.keyed("counts", "entries", &c.Entries, "files", &c.Files, "dirs", &c.Dirs, "symlinks", &c.Symlinks,
		"other", &c.Other, "bytes", &c.Bytes, "errors", &c.Errors, "hash_skipped", &c.HashSkipped, "unstable", &c.Unstable)
	if a := p.field("audit"); p.err == nil {
		size, root, _ := strings.Cut(a, " ")
		in.AuditSize, p.err = strconv.ParseInt(size, 10, 64)
		in.AuditRoot = root
	}
	in.Command = p.field("command")
	in.Changes = int64(p.uint("changes"))
	in.Reason, in.User = p.quoted("reason"), p.quoted("user")
	in.UID = int64(p.uint("uid"))
	in.Version = p.quoted("version")
	for p.has("snapshot") {
		in.Snapshots = append(in.Snapshots, p.snapshot())
	}
	for p.has("device") {
		in.DevStats = append(in.DevStats, p.device())
	}
	if p.has("posture") {
		in.Posture = &store.Posture{}
		p.hash("posture", &in.Posture.Root)
	}
	if p.has("nix") {
		in.Nix = &store.NixTree{}
		root, paths, _ := strings.Cut(p.field("nix"), " ")
		if b, err := hex.DecodeString(root); p.err == nil && (err != nil || len(b) != len(in.Nix.Root)) {
			p.err = fmt.Errorf("bad nix root %q", root)
		} else {
			copy(in.Nix.Root[:], b)
		}
		p.words([]string{paths}, "paths", &in.Nix.Paths)
	}
	if p.err == nil && (p.i != len(p.lines)-1 || p.lines[p.i] != "") {
		p.err = fmt.Errorf("line %d: want the end of the statement after a newline", p.i+1)
	}
	if p.err != nil {
		return store.Info{}, fmt.Errorf("statement: %w", p.err)
	}
	if Statement(in) != text {
		return store.Info{}, errors.New("statement: not in canonical form")
	}
	return in, nil
}

// statementParser reads a statement line by line; the first failure
// sticks in err and makes every later read return zero values.
type statementParser struct {
	lines []string
	i     int
	err   error
}

func (p *statementParser) next() string {
	if p.err != nil || p.i >= len(p.lines) {
		return ""
	}
	p.i++
	return p.lines[p.i-1]
}

// has reports whether the next line starts with key.
func (p *statementParser) has(key string) bool {
	return p.err == nil && p.i < len(p.lines) && strings.HasPrefix(p.lines[p.i], key+" ")
}

// field returns the rest of the next line, which must start with key.
func (p *statementParser) field(key string) string {
	if p.err != nil {
		return ""
	}
	v, ok := strings.CutPrefix(p.next(), key+" ")
	if !ok {
		p.err = fmt.Errorf("line %d: want %q", p.i, key)
	}
	return v
}

// hash reads a line "key HEX" of a 32-byte hash.
func (p *statementParser) hash(key string, dst *store.RootHash) {
	r := p.field(key)
	if p.err != nil {
		return
	}
	b, err := hex.DecodeString(r)
	if err != nil || len(b) != len(dst) {
		p.err = fmt.Errorf("bad %s %q", key, r)
	}
	copy(dst[:], b)
}

func (p *statementParser) uint(key string) uint64 {
	v := p.field(key)
	if p.err != nil {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		p.err = fmt.Errorf("line %d: %s: %w", p.i, key, err)
	}
	return n
}

func (p *statementParser) quoted(key string) string {
	v := p.field(key)
	if p.err != nil {
		return ""
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		p.err = fmt.Errorf("line %d: %s: %q is not a quoted string", p.i, key, v)
	}
	return s
}

// keyed reads a line "key name=N name=N ..." with the names in order;
// kv alternates the names and the *int64 or *uint64 they go to.
func (p *statementParser) keyed(key string, kv ...any) {
	p.words(strings.Fields(p.field(key)), kv...)
}

func (p *statementParser) words(words []string, kv ...any) {
	if p.err != nil {
		return
	}
	if len(words) != len(kv)/2 {
		p.err = fmt.Errorf("line %d: want %d fields, got %q", p.i, len(kv)/2, words)
		return
	}
	for i, w := range words {
		name := kv[2*i].(string)
		v, ok := strings.CutPrefix(w, name+"=")
		var err error
		switch dst := kv[2*i+1].(type) {
		case *int64:
			*dst, err = strconv.ParseInt(v, 10, 64)
		case *uint64:
			*dst, err = strconv.ParseUint(v, 10, 64)
		case *string:
			*dst = v
		}
		if !ok || err != nil {
			p.err = fmt.Errorf("line %d: bad %q, want %s=", p.i, w, name)
			return
		}
	}
}

func (p *statementParser) snapshot() store.Snapshot {
	var sn store.Snapshot
	rest := p.field("snapshot")
	for _, dst := range []*string{&sn.Root, &sn.Path} {
		q, err := strconv.QuotedPrefix(rest)
		if err == nil {
			*dst, err = strconv.Unquote(q)
		}
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("line %d: snapshot: want a quoted path in %q", p.i, rest)
		}
		rest = strings.TrimPrefix(rest[len(q):], " ")
	}
	uuid, rest, _ := strings.Cut(rest, " ")
	sn.UUID = uuid
	p.words(strings.Split(rest, " "), "otransid", &sn.OTransid, "ctransid", &sn.CTransid, "live", &sn.LiveUUID)
	return sn
}

func (p *statementParser) device() store.DevStats {
	var d store.DevStats
	f := strings.Split(p.field("device"), " ")
	if p.err == nil && len(f) < 2 {
		p.err = fmt.Errorf("line %d: device: want FSID DEVID and counters", p.i)
	}
	if p.err != nil {
		return d
	}
	d.FSID = f[0]
	p.words(append([]string{"devid=" + f[1]}, f[2:]...), "devid", &d.DevID, "write", &d.WriteErrs, "read", &d.ReadErrs,
		"flush", &d.FlushErrs, "corruption", &d.CorruptionErrs, "generation", &d.GenerationErrs)
	return d
}
