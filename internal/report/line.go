package report

import (
	"errors"
	"io/fs"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"vigil/alerts"
	"vigil/merkle"
)

// attrLetters holds one letter per merkle.Attr bit, lowest bit first.
const attrLetters = "CTpugsmcinxlf"

// attrWidth is the number of attribute columns.
var attrWidth = bits.Len32(uint32(merkle.AttrAll))

// typeWidth is the width of the file type column: the longest type name.
const typeWidth = len("block_device")

// ANSI colours of the actions.
const (
	green   = "\x1b[32m"
	red     = "\x1b[31m"
	yellow  = "\x1b[33m"
	cyan    = "\x1b[36m"
	boldRed = "\x1b[1;31m"
	reset   = "\x1b[0m"
)

// markers and colours per action; index 0 is an invalid action.
var (
	markers = [...]byte{'?', '+', '-', '~', '~', '>'}
	colours = [...]string{boldRed, green, red, yellow, yellow, cyan}
)

// appendChange appends the line reporting c, newline included.
func appendChange(b []byte, c merkle.Change, colour bool) []byte {
	a := int(c.Action)
	if a >= len(markers) {
		a = 0
	}
	sec := alerts.Classify(c)
	if colour && len(sec.Tags) > 0 {
		b = append(b, boldRed...)
	} else if colour {
		b = append(b, colours[a]...)
	}
	b = append(b, markers[a], ' ')
	b = appendAttrs(b, c)
	e := c.New
	if c.Action == merkle.Deleted || e == nil {
		e = c.Old
	}
	typ := merkle.TypeUnknown
	if e != nil {
		typ = e.Type
	}
	b = appendPadded(b, typ.String())
	switch {
	case c.Action == merkle.Moved && c.Old != nil:
		b = append(b, quote(c.Old.Path)...)
		b = append(b, " -> "...)
		b = append(b, quote(c.Path)...)
	case c.Action == merkle.Created && e != nil && e.Type == merkle.TypeSymlink:
		b = append(b, quote(c.Path)...)
		b = append(b, " -> "...)
		b = append(b, quote(e.Target)...)
	default:
		b = append(b, quote(c.Path)...)
	}
	if c.New != nil {
		b = appendNote(b, c.New)
	}
	b = appendSecurity(b, sec)
	return endLine(b, colour)
}

// appendAttrs appends the attribute columns of c and a space.
func appendAttrs(b []byte, c merkle.Change) []byte {
	for i := range attrWidth {
		switch {
		case c.Action == merkle.Created:
			b = append(b, '+')
		case c.Action == merkle.Deleted:
			b = append(b, '-')
		case c.Changed.Has(1<<i) && i < len(attrLetters):
			b = append(b, attrLetters[i])
		case c.Changed.Has(1 << i):
			b = append(b, '?')
		default:
			b = append(b, '.')
		}
	}
	return append(b, ' ')
}

// appendNote appends why the content of e could not be verified, if it
// could not.
func appendNote(b []byte, e *merkle.Entry) []byte {
	switch {
	case e.Err != "":
		b = append(b, " (error: "...)
		b = append(b, quote(e.Err)...)
		b = append(b, ')')
	case e.HashState == merkle.HashSkipped || e.HashState == merkle.HashUnstable || e.HashState == merkle.HashFailed:
		b = append(b, " (hash "...)
		b = append(b, e.HashState.String()...)
		b = append(b, ')')
	}
	return b
}

// appendError appends the line reporting that path could not be checked.
func appendError(b []byte, path string, err error, colour bool) []byte {
	if colour {
		b = append(b, boldRed...)
	}
	b = append(b, '!', ' ')
	for range attrWidth + 1 {
		b = append(b, ' ')
	}
	b = appendPadded(b, "error")
	b = append(b, quote(path)...)
	if err != nil {
		b = append(b, ": "...)
		b = append(b, quote(errorText(path, err))...)
	}
	return endLine(b, colour)
}

// errorText returns the message of err, without the path when err is a
// *fs.PathError about path, which the line already shows.
func errorText(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path && pe.Err != nil {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func appendPadded(b []byte, s string) []byte {
	b = append(b, s...)
	for n := len(s); n < typeWidth+1; n++ {
		b = append(b, ' ')
	}
	return b
}

func endLine(b []byte, colour bool) []byte {
	if colour {
		b = append(b, reset...)
	}
	return append(b, '\n')
}

// quote returns s as is when it is safe to print on a line of its own, and
// quoted with Go escapes otherwise; see the package documentation.
func quote(s string) string {
	if needsQuote(s) {
		return strconv.Quote(s)
	}
	return s
}

func needsQuote(s string) bool {
	if !utf8.ValidString(s) || s == "" || s[0] == '"' || strings.Contains(s, " -> ") || strings.Contains(s, " (") {
		return true
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return true
		}
	}
	return false
}
