package posture

import (
	_ "embed"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:embed profiles.toml
var defaultProfiles []byte

// DefaultProfilesText returns the embedded profiles file, which documents
// the format.
func DefaultProfilesText() string { return string(defaultProfiles) }

// Check is one check of a profile file (see profiles.toml for the format).
type Check struct {
	ID       string            `toml:"id"`
	Key      string            `toml:"key"`
	Title    string            `toml:"title"`
	Severity string            `toml:"severity"`
	Expect   map[string]string `toml:"expect"`
	Why      string            `toml:"why"`
	Sysctl   string            `toml:"sysctl"`
	NixOS    string            `toml:"nixos"`
	Unit     string            `toml:"unit"`
	Fix      string            `toml:"fix"`
}

// matches reports whether key is one of the check's.
func (c *Check) matches(key string) bool {
	ok, err := path.Match(c.Key, key)
	return err == nil && ok
}

// Profiles is a set of checks and the profile names they serve.
type Profiles struct {
	Names  []string `toml:"profiles"`
	Checks []Check  `toml:"check"`
}

var severities = []string{"info", "warning", "alert", "critical"}

// ParseProfiles reads a profile file. Every problem is reported at once.
func ParseProfiles(name string, text []byte) (Profiles, error) {
	var p Profiles
	md, err := toml.Decode(string(text), &p)
	if err != nil {
		return p, fmt.Errorf("%w: %s: %w", ErrProfile, name, err)
	}
	var probs []string
	for _, k := range md.Undecoded() {
		probs = append(probs, "unknown key "+k.String())
	}
	for i, c := range p.Checks {
		if c.ID == "" || c.Key == "" {
			probs = append(probs, fmt.Sprintf("check %d: want id and key", i+1))
		}
		if _, err := path.Match(c.Key, ""); err != nil {
			probs = append(probs, fmt.Sprintf("check %q: key: %v", c.ID, err))
		}
		if c.Severity != "" && !slices.Contains(severities, c.Severity) {
			probs = append(probs, fmt.Sprintf("check %q: severity %q: want one of %s", c.ID, c.Severity, strings.Join(severities, ", ")))
		}
		for prof, e := range c.Expect {
			if err := validExpect(e); err != nil {
				probs = append(probs, fmt.Sprintf("check %q: expect.%s: %v", c.ID, prof, err))
			}
		}
	}
	if len(probs) > 0 {
		return p, fmt.Errorf("%w: %s: %s", ErrProfile, name, strings.Join(probs, "; "))
	}
	return p, nil
}

// DefaultProfiles returns the embedded profiles.
func DefaultProfiles() Profiles {
	p, err := ParseProfiles("profiles.toml", defaultProfiles)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return p
}

// Extend returns p with the checks of more: one of the same id replaces
// p's, the others are added; more's profile names are added.
func (p Profiles) Extend(more Profiles) Profiles {
	out := Profiles{Names: slices.Clone(p.Names), Checks: slices.Clone(p.Checks)}
	for _, n := range more.Names {
		if !slices.Contains(out.Names, n) {
			out.Names = append(out.Names, n)
		}
	}
	for _, c := range more.Checks {
		if i := slices.IndexFunc(out.Checks, func(o Check) bool { return o.ID == c.ID }); i >= 0 {
			out.Checks[i] = c
		} else {
			out.Checks = append(out.Checks, c)
		}
	}
	return out
}

// For returns the checks that apply to profile, each with its expectation
// in Expect[profile]; an unknown profile is [ErrProfile].
func (p Profiles) For(profile string) ([]Check, error) {
	if !slices.Contains(p.Names, profile) {
		return nil, fmt.Errorf("%w: unknown profile %q (profiles: %s)", ErrProfile, profile, strings.Join(p.Names, ", "))
	}
	var out []Check
	for _, c := range p.Checks {
		e, ok := c.Expect[profile]
		if !ok {
			e, ok = c.Expect["all"]
		}
		if ok {
			c.Expect = map[string]string{profile: e}
			out = append(out, c)
		}
	}
	return out, nil
}

// validExpect checks the syntax of an expectation.
func validExpect(e string) error {
	for alt := range strings.SplitSeq(e, "|") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			return fmt.Errorf("%q: empty alternative", e)
		}
		for _, op := range []string{">=", "<=", ">", "<"} {
			if n, ok := strings.CutPrefix(alt, op); ok {
				if _, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
					return fmt.Errorf("%q: %s wants a number", e, op)
				}
				break
			}
		}
	}
	return nil
}

// Satisfies reports whether value meets the expectation e.
func Satisfies(value, e string) bool {
	for alt := range strings.SplitSeq(e, "|") {
		if satisfies(value, strings.TrimSpace(alt)) {
			return true
		}
	}
	return false
}

func satisfies(v, e string) bool {
	switch e {
	case "any":
		return true
	case "absent":
		return v == Absent
	case "none":
		return v == None
	}
	if want, ok := strings.CutPrefix(e, "has "); ok {
		words := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		for w := range strings.SplitSeq(want, ",") {
			if !slices.Contains(words, strings.TrimSpace(w)) {
				return false
			}
		}
		return true
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		n, ok := strings.CutPrefix(e, op)
		if !ok {
			continue
		}
		want, err1 := strconv.ParseFloat(strings.TrimSpace(n), 64)
		got, err2 := strconv.ParseFloat(v, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch op {
		case ">=":
			return got >= want
		case "<=":
			return got <= want
		case ">":
			return got > want
		}
		return got < want
	}
	return v == e
}
