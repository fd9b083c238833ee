package config

import (
	"strconv"
	"strings"
)

// positions maps rendered key paths (see [keyPath.String]) to where the key,
// table header or array element starts.
//
// BurntSushi/toml v1.6 records these positions but does not export them, so
// [locate] finds them with a small scanner of its own. It only ever sees text
// the TOML parser has accepted, which keeps it simple: it needs to know
// strings, comments, brackets and keys, not to validate anything.
type positions map[string]position

// position is a place in the text: a 1-based line and a byte offset.
type position struct{ line, off int }

// of returns the position of k, or of its nearest ancestor that has one, or
// line 0 and offset -1.
func (p positions) of(k keyPath) position {
	for n := len(k); n > 0; n-- {
		if at, ok := p[k[:n].String()]; ok {
			return at
		}
	}
	return position{0, -1}
}

// locate returns the positions of the keys, tables and array elements in
// src, which must be valid TOML. On invalid input it returns what it found
// and never loops or panics.
func locate(src string) positions {
	sc := &scanner{s: strings.TrimPrefix(src, "\ufeff"), line: 1,
		pos: positions{}, tables: map[string]int{}}
	var ctx keyPath
	for sc.i < len(sc.s) {
		start := sc.i
		sc.skipSpace()
		switch {
		case sc.i >= len(sc.s):
		case sc.s[sc.i] == '[':
			ctx = sc.header()
		default:
			sc.keyValue(ctx)
		}
		if sc.i == start {
			sc.next()
		}
	}
	return sc.pos
}

// scanner walks TOML text, counting lines.
type scanner struct {
	s      string
	i      int
	line   int
	pos    positions
	tables map[string]int // array-of-tables path → tables seen so far
}

func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

func (sc *scanner) next() {
	if sc.i < len(sc.s) {
		if sc.s[sc.i] == '\n' {
			sc.line++
		}
		sc.i++
	}
}

// at returns the current position.
func (sc *scanner) at() position { return position{sc.line, sc.i} }

// record notes the position of k unless k already has one: the first
// mention of a key is where it is defined.
func (sc *scanner) record(k keyPath, at position) {
	s := k.String()
	if _, ok := sc.pos[s]; !ok {
		sc.pos[s] = at
	}
}

// skipBlank skips spaces and tabs.
func (sc *scanner) skipBlank() {
	for c := sc.peek(); c == ' ' || c == '\t' || c == '\r'; c = sc.peek() {
		sc.i++
	}
}

// skipSpace skips blanks, newlines and comments.
func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.next()
		case '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

// header reads a [table] or [[array.of.tables]] header and returns the path
// of the table it opens.
func (sc *scanner) header() keyPath {
	at := sc.at()
	sc.i++
	array := sc.peek() == '['
	if array {
		sc.i++
	}
	parts := sc.keyParts()
	var k keyPath
	for j, part := range parts {
		k = k.key(part)
		sc.record(k, at)
		n, seen := sc.tables[k.String()]
		switch {
		case array && j == len(parts)-1:
			sc.tables[k.String()] = n + 1
			k = k.index(n)
			sc.record(k, at)
		case seen:
			k = k.index(n - 1)
		}
	}
	return k
}

// keyValue reads key = value in table ctx.
func (sc *scanner) keyValue(ctx keyPath) {
	at := sc.at()
	parts := sc.keyParts()
	if len(parts) == 0 || sc.peek() != '=' {
		return
	}
	sc.i++
	k := ctx
	for _, part := range parts {
		k = k.key(part)
		sc.record(k, at)
	}
	sc.skipBlank()
	sc.value(k)
}

// keyParts reads a possibly dotted key and the blanks after it.
func (sc *scanner) keyParts() []string {
	var parts []string
	for {
		sc.skipBlank()
		var part string
		switch c := sc.peek(); c {
		case '"', '\'':
			part = sc.keyString()
		default:
			start := sc.i
			for c := sc.peek(); c != 0 && !strings.ContainsRune(" \t\r\n=.[]#,{}\"'", rune(c)); c = sc.peek() {
				sc.i++
			}
			if sc.i == start {
				return parts
			}
			part = sc.s[start:sc.i]
		}
		parts = append(parts, part)
		sc.skipBlank()
		if sc.peek() != '.' {
			return parts
		}
		sc.i++
	}
}

// keyString reads a quoted key and returns its value.
func (sc *scanner) keyString() string {
	start := sc.i
	sc.skipString()
	raw := sc.s[start:sc.i]
	if len(raw) < 2 {
		return raw
	}
	if raw[0] == '\'' {
		return raw[1 : len(raw)-1]
	}
	if v, err := strconv.Unquote(raw); err == nil {
		return v
	}
	return raw[1 : len(raw)-1]
}

// value skips the value of key k, recording the positions of array elements
// and inline-table keys below it.
func (sc *scanner) value(k keyPath) {
	switch sc.peek() {
	case '"', '\'':
		sc.skipString()
	case '[':
		sc.array(k)
	case '{':
		sc.inlineTable(k)
	default:
		for c := sc.peek(); c != 0 && !strings.ContainsRune(",]}\n#", rune(c)); c = sc.peek() {
			sc.i++
		}
	}
}

func (sc *scanner) array(k keyPath) {
	sc.i++
	for n := 0; ; {
		sc.skipSpace()
		switch sc.peek() {
		case 0:
			return
		case ']':
			sc.i++
			return
		case ',':
			sc.i++
			n++
		default:
			el := k.index(n)
			sc.record(el, sc.at())
			start := sc.i
			sc.value(el)
			if sc.i == start {
				sc.next()
			}
		}
	}
}

func (sc *scanner) inlineTable(k keyPath) {
	sc.i++
	for {
		sc.skipSpace()
		switch sc.peek() {
		case 0:
			return
		case '}':
			sc.i++
			return
		case ',':
			sc.i++
		default:
			start := sc.i
			sc.keyValue(k)
			if sc.i == start {
				sc.next()
			}
		}
	}
}

// skipString skips a basic or literal string, single- or multi-line.
func (sc *scanner) skipString() {
	q := sc.s[sc.i]
	triple := strings.Repeat(string(q), 3)
	if strings.HasPrefix(sc.s[sc.i:], triple) {
		sc.i += 3
		for sc.i < len(sc.s) {
			switch {
			case q == '"' && sc.s[sc.i] == '\\':
				sc.next()
				sc.next()
			case strings.HasPrefix(sc.s[sc.i:], triple):
				sc.i += 3
				for n := 0; n < 2 && sc.peek() == q; n++ {
					sc.i++ // a closing delimiter may follow up to two quotes
				}
				return
			default:
				sc.next()
			}
		}
		return
	}
	sc.i++
	for c := sc.peek(); c != 0 && c != q && c != '\n'; c = sc.peek() {
		if q == '"' && c == '\\' && sc.i+1 < len(sc.s) {
			sc.i++
		}
		sc.i++
	}
	if sc.peek() == q {
		sc.i++
	}
}
