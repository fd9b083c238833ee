package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration. [Parse] and
// [Config.Validate] return every problem they find joined with errors.Join;
// use errors.As to get at the first one, or Unwrap() []error for all of them.
type Problem struct {
	File string // file name as given to Parse, or "default"
	Line int    // 1-based line of the offending key or value; 0 when unknown
	Key  string // key path such as "rule[2].ignore[0]"; empty for syntax errors
	Msg  string
}

// Error formats the problem as FILE:LINE: key: message, leaving out the parts
// that are unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (p *Problem) Unwrap() error { return ErrInvalid }

// problem is a Problem before it has a file and a line.
type problem struct {
	key keyPath
	msg string
}

// problemf returns a problem at key.
func problemf(key keyPath, format string, args ...any) problem {
	return problem{key: key, msg: fmt.Sprintf(format, args...)}
}

// joinProblems turns ps into one error: nil for none, else errors.Join of
// *Problem in file name, with positions looked up in pos (which may be nil),
// ordered by where they are in the text (those with no position first).
func joinProblems(file string, pos positions, ps []problem) error {
	if len(ps) == 0 {
		return nil
	}
	type placed struct {
		at position
		p  *Problem
	}
	list := make([]placed, len(ps))
	for i, p := range ps {
		at := pos.of(p.key)
		list[i] = placed{at, &Problem{File: file, Line: at.line, Key: p.key.String(), Msg: p.msg}}
	}
	slices.SortStableFunc(list, func(a, b placed) int { return cmp.Compare(a.at.off, b.at.off) })
	errs := make([]error, len(list))
	for i, l := range list {
		errs[i] = l.p
	}
	return errors.Join(errs...)
}

// keyPath names a value in a configuration file: a sequence of segments, each
// a key (rendered bare or quoted as TOML would need it) or an index "[n]".
type keyPath []string

// key returns k extended by the key name.
func (k keyPath) key(name string) keyPath {
	return append(k[:len(k):len(k)], quoteKey(name))
}

// index returns k extended by the array index i.
func (k keyPath) index(i int) keyPath {
	return append(k[:len(k):len(k)], "["+strconv.Itoa(i)+"]")
}

// String renders k as in "rule[1].paths[0]".
func (k keyPath) String() string {
	var b strings.Builder
	for i, s := range k {
		if i > 0 && s[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// within reports whether k is sub or lies below it.
func (k keyPath) within(sub keyPath) bool {
	return len(k) >= len(sub) && slices.Equal(k[:len(sub)], sub)
}

// quoteKey renders a key bare when TOML allows it, else quoted.
func quoteKey(name string) string {
	if name == "" {
		return `""`
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(name)
		}
	}
	return name
}
