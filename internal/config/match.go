package config

import (
	"slices"
	"strings"

	"vigil/merkle"
)

// Matcher answers, for one path at a time, whether the path is excluded and
// which attributes are monitored for it. It is safe for concurrent use.
type Matcher struct {
	exclude *patternSet
	files   *patternSet   // exclude_files: not for directories
	rules   *patternSet   // tags are rule indexes
	attrs   []merkle.Attr // per rule
	content *patternSet   // rules with a diff key; tags are rule indexes
	kept    []Content     // per rule
	skip    []string      // directories excluded with everything below them
}

// Skipping returns a copy of m that also excludes dirs and everything
// below them: places vigil keeps for itself (Btrfs snapshot
// directories), never part of a baseline.
func (m *Matcher) Skipping(dirs ...string) *Matcher {
	c := *m
	c.skip = append(slices.Clone(m.skip), dirs...)
	return &c
}

// Matcher compiles the exclude and rule patterns of c. It fails only if a
// pattern is invalid, which cannot happen for a Config from [Parse].
func (c *Config) Matcher() (*Matcher, error) {
	ps := patternProblems(keyPath{"exclude"}, c.Exclude)
	ps = append(ps, patternProblems(keyPath{"exclude_files"}, c.ExcludeFiles)...)
	for i, r := range c.Rules {
		ps = append(ps, patternProblems(keyPath{"rule"}.index(i).key("paths"), r.Paths)...)
	}
	if err := joinProblems(c.Source, nil, ps); err != nil {
		return nil, err
	}
	m := &Matcher{exclude: newPatternSet(c.Exclude), files: newPatternSet(c.ExcludeFiles), rules: &patternSet{}, content: &patternSet{}}
	for i, r := range c.Rules {
		for _, p := range r.Paths {
			if r.Attrs != 0 {
				m.rules.add(p, i)
			}
			if r.Content.Set {
				m.content.add(p, i)
			}
		}
		m.attrs = append(m.attrs, r.Attrs|merkle.AttrType)
		m.kept = append(m.kept, r.Content)
	}
	return m, nil
}

// Match reports whether path (absolute and clean) is excluded and, if not,
// the attributes to monitor: those of the last rule with a pattern matching
// path, else [merkle.AttrAll]. attrs always includes [merkle.AttrType]; for
// an excluded path it is just that.
//
// Match judges path alone. The scanner does not descend into an excluded
// directory, so excluding a directory excludes everything below it too, but
// Match does not check a path's parents.
//
// Match judges path as a file (anything but a directory): exclude_files
// patterns apply. [Matcher.Filter] is Match for a path whose type is known.
func (m *Matcher) Match(path string) (attrs merkle.Attr, excluded bool) {
	return m.Filter(path, false)
}

// Filter is [Matcher.Match] for a path that is a directory if dir is set:
// exclude_files patterns exclude only paths that are not.
func (m *Matcher) Filter(path string, dir bool) (attrs merkle.Attr, excluded bool) {
	if m.exclude.last(path) >= 0 || (!dir && m.files.last(path) >= 0) {
		return merkle.AttrType, true
	}
	for _, s := range m.skip {
		if merkle.Within(path, s) {
			return merkle.AttrType, true
		}
	}
	if i := m.rules.last(path); i >= 0 {
		return m.attrs[i], false
	}
	return merkle.AttrAll, false
}

// Rule returns the index in [Config.Rules] of the rule deciding path (the
// last one with a pattern matching it), or -1 when none matches. Like
// Match, it does not look at excludes or at path's parents.
func (m *Matcher) Rule(path string) int {
	return m.rules.last(path)
}

// Content returns the content keeping of path: that of the last rule with
// a diff key and a pattern matching path; the zero Content (nothing kept)
// when none does. Like Match, it does not look at path's parents.
func (m *Matcher) Content(path string) Content {
	if i := m.content.last(path); i >= 0 {
		return m.kept[i]
	}
	return Content{}
}

// patternSet is a list of compiled globs, each with a tag (its position in
// the configuration), that finds the highest tag matching a path.
type patternSet struct {
	literal map[string]int // patterns without metacharacters
	globs   []pattern      // the rest, in increasing tag order
}

// newPatternSet compiles valid patterns, tagged by their index.
func newPatternSet(patterns []string) *patternSet {
	s := &patternSet{}
	for i, p := range patterns {
		s.add(p, i)
	}
	return s
}

// add compiles p with tag; tags must not decrease from call to call.
func (s *patternSet) add(p string, tag int) {
	for _, alt := range expandBraces(p) {
		if strings.ContainsAny(alt, metaChars) {
			s.globs = append(s.globs, compile(alt, tag))
			continue
		}
		if s.literal == nil {
			s.literal = map[string]int{}
		}
		s.literal[alt] = tag
	}
}

// last returns the highest tag of a pattern matching path, or -1.
func (s *patternSet) last(path string) int {
	best := -1
	if s.literal != nil {
		if t, ok := s.literal[path]; ok {
			best = t
		}
	}
	for i := len(s.globs) - 1; i >= 0 && s.globs[i].tag > best; i-- {
		if s.globs[i].match(path) {
			return s.globs[i].tag
		}
	}
	return best
}

// coversWithin reports whether path or one of its ancestors up to root
// matches a pattern, that is whether a scan of root would skip path.
func (s *patternSet) coversWithin(path, root string) bool {
	for p := path; p != ""; p = merkle.Parent(p) {
		if s.last(p) >= 0 {
			return true
		}
		if p == root {
			break
		}
	}
	return false
}
