package config

import (
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// metaChars are the bytes that make a doublestar pattern more than a
// literal ('\\' escapes the next byte; ']' and '}' close what '[' and '{'
// open and so end the literal suffix).
const (
	metaChars    = `*?[{\`
	metaOrCloser = `*?[]{}\`
)

// kind selects how a pattern is matched; all kinds agree with
// doublestar.Match on absolute clean paths.
type kind uint8

const (
	kindGlob    kind = iota // general: literal prefix and suffix, then doublestar
	kindSubtree             // P/**: P itself and everything below it
	kindBase                // P/**/X, X one path element: below P, base name matches X
)

// pattern is a compiled glob. Cheap tests on literal parts reject most paths
// before doublestar runs.
type pattern struct {
	kind kind
	tag  int
	full string // the whole pattern
	dir  string // kindSubtree, kindBase: P + "/"
	elem string // kindBase: X
	pre  string // literal prefix of full (kindGlob) or of X (kindBase)
	suf  string // literal suffix of full (kindGlob) or of X (kindBase)
}

// compile classifies a valid pattern that has metacharacters.
func compile(p string, tag int) pattern {
	q := pattern{kind: kindGlob, tag: tag, full: p}
	if rest, ok := strings.CutSuffix(p, "/**"); ok && !strings.ContainsAny(rest, metaChars) {
		q.kind, q.dir, q.pre = kindSubtree, rest+"/", rest
		return q
	}
	if i := strings.Index(p, "/**/"); i >= 0 && !strings.ContainsAny(p[:i], metaChars) {
		x := p[i+4:]
		if x != "" && !strings.Contains(x, "/") && !strings.Contains(x, "**") {
			q.kind, q.dir, q.elem = kindBase, p[:i+1], x
			q.pre, q.suf = literalEnds(x)
			return q
		}
	}
	q.pre, q.suf = literalEnds(p)
	return q
}

// literalEnds returns the literal text before the first and after the last
// metacharacter of a glob, so that every match starts with pre and ends with
// suf. A '/' just before "**" is left out of pre: "/a/**" matches "/a".
func literalEnds(g string) (pre, suf string) {
	i := strings.IndexAny(g, metaChars)
	if i < 0 {
		return g, ""
	}
	pre = g[:i]
	if strings.HasPrefix(g[i:], "**") {
		pre = strings.TrimSuffix(pre, "/")
	}
	suf = g[strings.LastIndexAny(g, metaOrCloser)+1:]
	return pre, suf
}

// match reports whether path matches, as doublestar.Match(q.full, path) would.
func (q *pattern) match(path string) bool {
	switch q.kind {
	case kindSubtree:
		return path == q.pre || strings.HasPrefix(path, q.dir)
	case kindBase:
		if !strings.HasPrefix(path, q.dir) {
			return false
		}
		base := path[strings.LastIndexByte(path, '/')+1:]
		if base == "" {
			return doublestar.MatchUnvalidated(q.full, path)
		}
		return fits(base, q.pre, q.suf) && doublestar.MatchUnvalidated(q.elem, base)
	}
	return fits(path, q.pre, q.suf) && doublestar.MatchUnvalidated(q.full, path)
}

// fits reports whether s starts with pre and ends with suf, the two not
// overlapping.
func fits(s, pre, suf string) bool {
	return len(s) >= len(pre)+len(suf) && strings.HasPrefix(s, pre) && strings.HasSuffix(s, suf)
}

// maxAlternatives bounds the brace expansion of one pattern.
const maxAlternatives = 256

// expandBraces returns the brace-free patterns whose union p matches:
// "/etc/{a,b}{1,2}" gives /etc/a1, /etc/a2, /etc/b1 and /etc/b2, which are
// literals and need no glob matching at all. Patterns with character
// classes or escapes, ones with more than maxAlternatives expansions and
// ones with an expansion that is not a valid clean pattern are returned as
// they are.
func expandBraces(p string) []string {
	if strings.ContainsAny(p, `[\`) || !strings.Contains(p, "{") {
		return []string{p}
	}
	out, ok := expand(p, nil)
	if !ok {
		return []string{p}
	}
	for _, alt := range out {
		// doublestar treats alternatives that are empty or that leave
		// "//" or a trailing "/" behind in ways of its own; keep those
		// patterns whole.
		if patternProblem(alt) != "" {
			return []string{p}
		}
	}
	return out
}

// expand appends the expansions of p to out; false means too many, or
// that an expansion would change the meaning of the pattern.
func expand(p string, out []string) ([]string, bool) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if len(out) >= maxAlternatives {
			return out, false
		}
		return append(out, p), true
	}
	var alts []string
	start, depth := open+1, 0
	for i := open; i < len(p); i++ {
		switch c := p[i]; {
		case c == '{':
			depth++
		case c == ',' && depth == 1:
			alts = append(alts, p[start:i])
			start = i + 1
		case c == '}':
			depth--
			if depth > 0 {
				continue
			}
			alts = append(alts, p[start:i])
			for _, a := range alts {
				q := p[:open] + a + p[i+1:]
				if a == "" || starsMeet(q, open) || starsMeet(q, open+len(a)) {
					return out, false // doublestar has its own idea of "{}" and "*{*}"
				}
				var ok bool
				if out, ok = expand(q, out); !ok {
					return out, false
				}
			}
			return out, true
		}
	}
	return append(out, p), true // unbalanced: cannot happen for a valid pattern
}

// starsMeet reports whether s has a '*' on both sides of offset at.
func starsMeet(s string, at int) bool {
	return at > 0 && at < len(s) && s[at-1] == '*' && s[at] == '*'
}
