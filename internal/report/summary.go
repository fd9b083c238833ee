package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"vigil/internal/progress"

	"vigil/alerts"
)

// shortHash is how many hex digits of a root hash the summary shows.
const shortHash = 16

// appendSummary appends the human-readable summary paragraph of s.
func appendSummary(b []byte, s alerts.Summary) []byte {
	if s.Command != "" {
		b = append(b, quote(s.Command)...)
		b = append(b, ": "...)
	}
	b = fmt.Appendf(b, "%s, %d added, %d removed, %d changed, %d moved, %s\n",
		plural(s.Entries, "entry", "entries"), s.Added, s.Removed, s.Changed, s.Moved,
		plural(s.Errors, "error", "errors"))
	b = fmt.Appendf(b, "hashed %s (%s) in %s\n",
		plural(s.Hashed, "file", "files"), progress.IEC(s.BytesHashed), duration(s.Duration))
	b = appendRoots(b, s.OldRoot, s.NewRoot)
	if len(s.Scope) > 0 {
		q := make([]string, len(s.Scope))
		for i, p := range s.Scope {
			q[i] = quote(p)
		}
		b = append(b, "scope "...)
		b = append(b, strings.Join(q, ", ")...)
		b = append(b, '\n')
	}
	return b
}

func appendRoots(b []byte, old, cur string) []byte {
	switch {
	case old == "" && cur == "":
		return b
	case old == "":
		return fmt.Appendf(b, "root %s\n", short(cur))
	case cur == "":
		return fmt.Appendf(b, "root %s\n", short(old))
	case old == cur:
		return fmt.Appendf(b, "root %s (unchanged)\n", short(cur))
	}
	return fmt.Appendf(b, "root %s -> %s\n", short(old), short(cur))
}

// short returns the first shortHash characters of a hex hash.
func short(h string) string {
	if len(h) > shortHash {
		h = h[:shortHash]
	}
	return quote(h)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// duration rounds d to what a person wants to read.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
