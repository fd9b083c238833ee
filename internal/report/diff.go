package report

import (
	"strconv"
	"strings"

	"vigil/internal/textdiff"
)

// appendDiff appends d below a change's line, each line indented by four
// spaces: the unified diff (added lines green, removed red on a terminal),
// the count of lines left out, or why there is no diff.
func appendDiff(b []byte, d *textdiff.Diff, colour bool) []byte {
	if d == nil {
		return b
	}
	if d.NotKept != "" {
		return append(b, "    (no diff: "+d.NotKept+")\n"...)
	}
	for l := range strings.Lines(d.Unified) {
		l = visible(l)
		b = append(b, "    "...)
		c := ""
		switch {
		case !colour || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ "):
		case l[0] == '+':
			c = green
		case l[0] == '-':
			c = red
		case l[0] == '@':
			c = cyan
		}
		if c != "" {
			b = append(b, c...)
			b = append(b, strings.TrimSuffix(l, "\n")...)
			b = append(b, reset+"\n"...)
			continue
		}
		b = append(b, l...)
	}
	if d.Truncated {
		b = append(b, "    ("+strconv.Itoa(d.Omitted)+" more lines of diff not shown)\n"...)
	}
	return b
}

// visible returns line (newline kept) with control characters but tab,
// and DEL, written as \xNN: a file's content must not steer the terminal.
func visible(line string) string {
	body, nl := strings.CutSuffix(line, "\n")
	if !strings.ContainsFunc(body, isControl) {
		return line
	}
	var sb strings.Builder
	for _, r := range body {
		if isControl(r) {
			sb.WriteString(`\x`)
			sb.WriteString(strconv.FormatInt(int64(r)+0x100, 16)[1:])
			continue
		}
		sb.WriteRune(r)
	}
	if nl {
		sb.WriteByte('\n')
	}
	return sb.String()
}

func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) }
