package nix

import (
	"fmt"
	"strings"
)

// Message is the finding in words, without its kind and path: the detail,
// the generation that brought a closure path, the files named.
func (f Finding) Message() string {
	s := f.Detail
	if f.Generation != 0 {
		s += fmt.Sprintf(" (generation %d, %s)", f.Generation, f.Root)
	} else if f.Root != "" {
		s += " (" + f.Root + ")"
	}
	if len(f.Files) > 0 {
		s += "; files: " + strings.Join(f.Files, ", ")
	}
	return strings.TrimSpace(s)
}
