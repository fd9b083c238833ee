package config

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/bmatcuk/doublestar/v4"

	"vigil/merkle"
)

// problems returns everything semantically wrong with c, each at the key
// path where a configuration file would hold it.
func (c *Config) problems() []problem {
	var ps []problem
	ps = append(ps, c.rootProblems()...)
	ps = append(ps, patternProblems(keyPath{"exclude"}, c.Exclude)...)
	ps = append(ps, patternProblems(keyPath{"exclude_files"}, c.ExcludeFiles)...)
	ps = append(ps, c.databaseProblems()...)
	ps = append(ps, c.sealingProblems()...)
	ps = append(ps, c.btrfsProblems()...)
	ps = append(ps, c.postureProblems()...)
	ps = append(ps, c.nixProblems()...)
	if c.Keep < 1 {
		ps = append(ps, problemf(keyPath{"keep"}, "must be at least 1, got %d", c.Keep))
	}
	if c.MaxHashSize < 0 {
		ps = append(ps, problemf(keyPath{"max_hash_size"}, "must not be negative, got %d", c.MaxHashSize))
	}
	ps = append(ps, workerProblems(keyPath{"scan", "hash_workers"}, c.HashWorkers)...)
	ps = append(ps, workerProblems(keyPath{"scan", "dir_workers"}, c.DirWorkers)...)
	if c.RereadWithin < 0 || c.RereadWithin > MaxRereadWithin {
		ps = append(ps, problemf(keyPath{"scan", "reread_within"}, "must be 0 (no sample) or 1 to %d checks, got %d", MaxRereadWithin, c.RereadWithin))
	}
	for i, r := range c.Rules {
		ps = append(ps, r.problems(keyPath{"rule"}.index(i))...)
	}
	ps = append(ps, c.watchProblems()...)
	ps = append(ps, c.fleetProblems()...)
	return ps
}

func workerProblems(key keyPath, n int) []problem {
	if n < 0 || n > MaxWorkers {
		return []problem{problemf(key, "must be 0 (the scanner's default) or 1 to %d, got %d", MaxWorkers, n)}
	}
	return nil
}

// rootProblems checks that there are roots, that each is absolute and clean,
// and that none repeats or lies inside another (it would be scanned twice).
func (c *Config) rootProblems() []problem {
	key := keyPath{"roots"}
	if len(c.Roots) == 0 {
		return []problem{problemf(key, "no roots; list at least one directory to watch")}
	}
	var ps []problem
	for i, r := range c.Roots {
		if !merkle.ValidPath(r) {
			ps = append(ps, problemf(key.index(i), "%q is not an absolute clean path", r))
			continue
		}
		if p, ok := c.rootOverlap(i); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// rootOverlap reports a problem if valid root i repeats an earlier root or
// lies inside another one.
func (c *Config) rootOverlap(i int) (problem, bool) {
	key, r := keyPath{"roots"}.index(i), c.Roots[i]
	for j, o := range c.Roots {
		if j == i || !merkle.ValidPath(o) {
			continue
		}
		if o == r && j < i {
			return problemf(key, "%q is listed twice (also as roots[%d])", r, j), true
		}
		if o != r && merkle.Within(r, o) {
			return problemf(key, "%q lies inside root %q (roots[%d]); list only one of them", r, o, j), true
		}
	}
	return problem{}, false
}

// databaseProblems checks the database path. A database inside a root would
// change with every update and show up in every check, unless excluded.
func (c *Config) databaseProblems() []problem {
	key := keyPath{"database"}
	switch {
	case c.Database == "":
		return []problem{problemf(key, "must not be empty")}
	case !merkle.ValidPath(c.Database):
		return []problem{problemf(key, "%q is not an absolute clean path", c.Database)}
	}
	var ex *patternSet
	for _, r := range c.Roots {
		if !merkle.ValidPath(r) || !merkle.Within(c.Database, r) {
			continue
		}
		if ex == nil {
			ex = newPatternSet(validPatterns(c.Exclude))
		}
		files := newPatternSet(validPatterns(c.ExcludeFiles)) // the database is a file
		if !ex.coversWithin(c.Database, r) && files.last(c.Database) < 0 {
			return []problem{problemf(key, "%q lies inside root %q; move it or exclude it", c.Database, r)}
		}
	}
	return nil
}

func (r *Rule) problems(key keyPath) []problem {
	var ps []problem
	if len(r.Paths) == 0 {
		ps = append(ps, problemf(key.key("paths"), "a rule needs at least one path"))
	}
	ps = append(ps, patternProblems(key.key("paths"), r.Paths)...)
	if r.Attrs&^merkle.AttrAll != 0 {
		ps = append(ps, problemf(key, "unknown attribute bits %#x", uint32(r.Attrs&^merkle.AttrAll)))
	}
	if r.FloodLimit < 0 {
		ps = append(ps, problemf(key.key("flood_limit"), "must not be negative, got %d", r.FloodLimit))
	}
	if (r.Content.Max != 0 || r.Content.Private) && !r.Content.Set {
		ps = append(ps, problemf(key.key("diff"), "diff_max and diff_private need diff"))
	}
	if r.Content.Max < 0 || r.Content.Max > MaxDiffMax {
		ps = append(ps, problemf(key.key("diff_max"), "must be between 1 byte and 16MiB"))
	}
	if r.Attrs == 0 && r.Remediation.Policy != "" {
		ps = append(ps, problemf(key.key("remediation"), "needs ignore or attributes: a rule with only diff keys decides no alerts"))
	}
	return append(ps, r.Remediation.problems(key)...)
}

// problems checks a rule's remediation keys: a known policy, a command
// for exec and only for exec.
func (r Remediation) problems(key keyPath) []problem {
	var ps []problem
	switch r.Policy {
	case "", RemediateAlert, RemediateRestore:
		if len(r.Command) > 0 {
			ps = append(ps, problemf(key.key("remediation_command"), `only for remediation = "exec"`))
		}
		if r.Timeout > 0 {
			ps = append(ps, problemf(key.key("remediation_timeout"), `only for remediation = "exec"`))
		}
	case RemediateExec:
		if len(r.Command) == 0 || !filepath.IsAbs(r.Command[0]) {
			ps = append(ps, problemf(key.key("remediation_command"), "remediation = \"exec\" needs an argv whose program is an absolute path, got %q", r.Command))
		}
	default:
		ps = append(ps, problemf(key.key("remediation"), "%q is not a remediation: alert, exec or restore", r.Policy))
	}
	return ps
}

// patternProblems checks a list of globs, reporting at most one problem per
// pattern.
func patternProblems(key keyPath, patterns []string) []problem {
	var ps []problem
	for i, p := range patterns {
		if msg := patternProblem(p); msg != "" {
			ps = append(ps, problemf(key.index(i), "%s", msg))
		}
	}
	return ps
}

// patternProblem describes what is wrong with glob p, or returns "".
func patternProblem(p string) string {
	switch {
	case p == "":
		return "empty pattern"
	case p[0] != '/':
		return fmt.Sprintf(`pattern %q must start with "/": patterns match absolute paths`, p)
	case !doublestar.ValidatePattern(p):
		return fmt.Sprintf("pattern %q is not a valid glob", p)
	case path.Clean(p) != p:
		return fmt.Sprintf(`pattern %q can never match: paths have no trailing "/", "//", "." or ".." elements`, p)
	}
	return ""
}

// validPatterns returns the patterns without problems.
func validPatterns(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if patternProblem(p) == "" {
			out = append(out, p)
		}
	}
	return out
}
