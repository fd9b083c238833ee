package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/merkle"
)

// MaxLine is the longest line [ReadSaved] reads: one event, whatever its
// path, target and extended attributes, is far shorter.
const MaxLine = 1 << 24

// Saved is a saved report of 'vigil check --json' (what a [Writer] with
// Options.JSON wrote): its summary and, for each change it lists, the state
// the entry was in. [Saved.Accept] accepts a change only in that state.
type Saved struct {
	// Summary is the report's closing summary: Command is "check" and
	// OldRoot the root of the baseline the report was made against.
	Summary alerts.Summary
	want    map[string][]byte // kind NUL path → state
	seen    map[string]bool
}

// ReadSaved reads a report written by [Writer] with Options.JSON. Every
// line must be one event, the last one the summary of a check; an event of
// an unknown action, or one that does not parse, fails with
// [ErrNotReport], naming the line. Scan errors and findings (event.kind
// "alert": a device's error counters, the trust decision's) list nothing
// to accept and are skipped. Memory grows with the report: at
// most two recorded states per line, and no line longer than [MaxLine].
func ReadSaved(r io.Reader) (*Saved, error) {
	s := &Saved{want: map[string][]byte{}, seen: map[string]bool{}}
	var sum *alerts.Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, MaxLine)
	n := 0
	for sc.Scan() {
		n++
		if sum != nil {
			return nil, fmt.Errorf("line %d: %w: a line after the summary", n, ErrNotReport)
		}
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("line %d: %w: %v", n, ErrNotReport, err)
		}
		if ev.Event.Action == "summary" {
			if ev.Vigil == nil || ev.Vigil.Summary == nil {
				return nil, fmt.Errorf("line %d: %w: a summary event without vigil.summary", n, ErrNotReport)
			}
			sum = ev.Vigil.Summary
			continue
		}
		if err := s.add(ev); err != nil {
			return nil, fmt.Errorf("line %d: %w: %v", n, ErrNotReport, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w: %v", n+1, ErrNotReport, err)
	}
	if sum == nil || sum.Command != "check" || sum.OldRoot == "" {
		return nil, fmt.Errorf("%w: no summary of a 'vigil check --json' run, not a complete report", ErrNotReport)
	}
	s.Summary = *sum
	return s, nil
}

// add records what one event of the report says.
func (s *Saved) add(ev alerts.Event) error {
	if ev.Event.Action == "scan_error" || ev.Event.Kind == "alert" {
		return nil // a path not checked, a device or trust finding: nothing to accept
	}
	if ev.File == nil {
		return fmt.Errorf("event.action %q without a file", ev.Event.Action)
	}
	p, err := eventPath(ev.File.Path, ev.Vigil, false)
	if err != nil {
		return err
	}
	switch ev.Event.Action {
	case "created":
		s.want["created\x00"+p] = stateOf(ev.File, ev.Vigil, false)
	case "deleted":
		s.want["deleted\x00"+p] = stateOf(ev.File, ev.Vigil, false)
	case "updated", "attributes_modified":
		s.want["modified\x00"+p] = stateOf(ev.File, ev.Vigil, true)
	case "moved":
		if ev.Vigil == nil || ev.Vigil.Previous == nil {
			return fmt.Errorf("moved event of %s without vigil.previous", quote(p))
		}
		old, err := eventPath(ev.Vigil.Previous.Path, ev.Vigil, true)
		if err != nil {
			return err
		}
		s.want["created\x00"+p] = stateOf(ev.File, ev.Vigil, false)
		prev := ev.Vigil.Previous
		s.want["deleted\x00"+old] = stateOf(&prev.File, &alerts.Vigil{FileExtra: prev.FileExtra}, false)
	default:
		return fmt.Errorf("unknown event.action %q", ev.Event.Action)
	}
	return nil
}

// eventPath returns the exact path of an event (or of its previous entry).
func eventPath(p string, v *alerts.Vigil, previous bool) (string, error) {
	b64 := ""
	if v != nil && !previous {
		b64 = v.PathBase64
	} else if v != nil && v.Previous != nil {
		b64 = v.Previous.PathBase64
	}
	if b64 == "" {
		return p, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("path_base64 of %s: %v", quote(p), err)
	}
	return string(b), nil
}

// stateOf encodes what an event says about an entry, without its path;
// with changed, also which attributes changed.
func stateOf(f *alerts.File, v *alerts.Vigil, changed bool) []byte {
	st := struct {
		File    alerts.File
		Extra   alerts.FileExtra
		Changed []string
	}{File: *f}
	st.File.Path = ""
	if v != nil {
		st.Extra = v.FileExtra
		st.Extra.PathBase64 = ""
		if changed && len(v.Changed) > 0 {
			st.Changed = v.Changed
		}
	}
	b, _ := json.Marshal(st) // plain data: cannot fail
	return b
}

// Accept accepts a change the report lists in the same state, turns down
// one it does not list (false, nil), and refuses one it lists in another
// state with an error wrapping [ErrStale]. It has the signature of the
// engine's Options.Accept.
func (s *Saved) Accept(c merkle.Change) (bool, error) {
	kind := "modified"
	if c.Action == merkle.Created || c.Action == merkle.Deleted {
		kind = c.Action.String()
	}
	key := kind + "\x00" + c.Path
	want, ok := s.want[key]
	if !ok {
		return false, nil
	}
	ev := alerts.FromChange(c, "", time.Time{})
	if ev.File == nil || !bytes.Equal(stateOf(ev.File, ev.Vigil, kind == "modified"), want) {
		return false, fmt.Errorf("%s (%s): not in the state the report shows: %w", quote(c.Path), kind, ErrStale)
	}
	s.seen[key] = true
	return true, nil
}

// Len returns the number of changes the report lists (a move counts as a
// creation and a deletion).
func (s *Saved) Len() int { return len(s.want) }

// Unmatched returns the paths, sorted, of the listed changes that
// [Saved.Accept] has not accepted: the entry is back in its recorded
// state, or was not looked at.
func (s *Saved) Unmatched() []string {
	var missing []string
	for k := range s.want {
		if !s.seen[k] {
			_, p, _ := strings.Cut(k, "\x00")
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}
