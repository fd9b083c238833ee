package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/merkle"
	"vigil/store"
)

// errStale means a saved report no longer describes the host or the
// baseline: what was reviewed is not what would be accepted.
var errStale = errors.New("the host or the baseline changed since the report was made; run check again and review")

func runUpdate(ctx context.Context, e *env, inv *invocation) int {
	return e.compare(ctx, inv, engine.Update)
}

// acceptOptions sets o.Accept from --entry and --from.
func (e *env) acceptOptions(db *store.DB, inv *invocation, o engine.Options) (engine.Options, error) {
	entry, from := inv.bool("entry"), inv.str("from")
	switch {
	case entry && from != "":
		return o, &usageError{msg: "--entry and --from exclude each other", cmd: inv.cmd}
	case entry && len(o.Paths) == 0:
		return o, &usageError{msg: "--entry needs the PATHs of the entries to accept", cmd: inv.cmd}
	case entry:
		o.Accept = acceptEntries(o.Paths)
	case from != "":
		cur, err := db.Current()
		if err != nil {
			return o, err
		}
		r, err := readReport(from)
		if err != nil {
			return o, err
		}
		if r.summary.OldRoot != cur.Info().Root.String() {
			return o, fmt.Errorf("%s was made against baseline root %.16s, the current one is %.16s: %w", from, r.summary.OldRoot, cur.Info().Root.String(), errStale)
		}
		if len(o.Paths) == 0 {
			o.Paths = r.summary.Scope
		}
		o.Accept = r.accept
		e.afterUpdate = func() {
			if err := r.unmatched(); err != nil {
				e.log.Warn().Msg(err.Error())
			}
		}
	}
	if o.Accept != nil {
		o.Accept = e.countTurnedDown(o.Accept)
	}
	return o, nil
}

// countTurnedDown wraps accept so that the changes it turns down are
// counted, and said once the update is done.
func (e *env) countTurnedDown(accept func(merkle.Change) (bool, error)) func(merkle.Change) (bool, error) {
	n := 0
	after := e.afterUpdate
	e.afterUpdate = func() {
		if after != nil {
			after()
		}
		if n > 0 {
			e.log.Warn().Int("pending", n).Msg("changes not reviewed were not accepted: the next check reports them")
		}
	}
	return func(c merkle.Change) (bool, error) {
		ok, err := accept(c)
		if !ok && err == nil {
			n++
		}
		return ok, err
	}
}

// acceptEntries accepts the changes of exactly the entries at paths, and
// the deletions below a deleted one (a directory cannot go while what it
// held stays).
func acceptEntries(paths []string) func(merkle.Change) (bool, error) {
	var gone []string
	return func(c merkle.Change) (bool, error) {
		if slices.Contains(paths, c.Path) {
			if c.Action == merkle.Deleted {
				gone = append(gone, c.Path)
			}
			return true, nil
		}
		for _, g := range gone {
			if c.Action == merkle.Deleted && merkle.Within(c.Path, g) {
				return true, nil
			}
		}
		return false, nil
	}
}

// savedReport is a 'check --json' report: the state each listed change
// leads to, by raw action ("created", "deleted", or "modified") and path.
type savedReport struct {
	file    string
	summary alerts.Summary
	want    map[string][]byte // key → state
	seen    map[string]bool
}

// readReport reads the NDJSON report at path.
func readReport(path string) (*savedReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &savedReport{file: path, want: map[string][]byte{}, seen: map[string]bool{}}
	var sum *alerts.Summary
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, &usageError{msg: fmt.Sprintf("%s:%d: not a 'vigil check --json' report: %v", path, n, err)}
		}
		if ev.Vigil != nil && ev.Vigil.Summary != nil {
			sum = ev.Vigil.Summary
			continue
		}
		if err := r.add(ev); err != nil {
			return nil, &usageError{msg: fmt.Sprintf("%s:%d: %v", path, n, err)}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if sum == nil || sum.Command != "check" || sum.OldRoot == "" {
		return nil, &usageError{msg: path + ": no summary of a 'vigil check --json' run: not a complete report"}
	}
	r.summary = *sum
	return r, nil
}

// add records what one event of the report says.
func (r *savedReport) add(ev alerts.Event) error {
	if ev.File == nil {
		return nil // scan errors: nothing to accept
	}
	p, err := eventPath(ev.File.Path, ev.Vigil, false)
	if err != nil {
		return err
	}
	switch ev.Event.Action {
	case "created":
		r.want["created\x00"+p] = stateOf(ev.File, ev.Vigil, false)
	case "deleted":
		r.want["deleted\x00"+p] = stateOf(ev.File, ev.Vigil, false)
	case "updated", "attributes_modified":
		r.want["modified\x00"+p] = stateOf(ev.File, ev.Vigil, true)
	case "moved":
		if ev.Vigil == nil || ev.Vigil.Previous == nil {
			return fmt.Errorf("moved event of %s without vigil.previous", quote(p))
		}
		old, err := eventPath(ev.Vigil.Previous.Path, ev.Vigil, true)
		if err != nil {
			return err
		}
		r.want["created\x00"+p] = stateOf(ev.File, ev.Vigil, false)
		prev := ev.Vigil.Previous
		r.want["deleted\x00"+old] = stateOf(&prev.File, &alerts.Vigil{FileExtra: prev.FileExtra}, false)
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
	return string(b), err
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

// accept accepts a change the report lists in the same state, turns down
// one it does not list, and refuses one it lists in another state.
func (r *savedReport) accept(c merkle.Change) (bool, error) {
	kind := "modified"
	if c.Action == merkle.Created || c.Action == merkle.Deleted {
		kind = c.Action.String()
	}
	key := kind + "\x00" + c.Path
	want, ok := r.want[key]
	if !ok {
		return false, nil
	}
	ev := alerts.FromChange(c, "", time.Time{})
	if ev.File == nil || !bytes.Equal(stateOf(ev.File, ev.Vigil, kind == "modified"), want) {
		return false, fmt.Errorf("%s (%s): not in the state %s shows: %w", quote(c.Path), kind, r.file, errStale)
	}
	r.seen[key] = true
	return true, nil
}

// unmatched describes the listed changes that were not found (the entry is
// back in its recorded state, or was not scanned): nothing unreviewed is
// accepted for them, so this is not refused.
func (r *savedReport) unmatched() error {
	var missing []string
	for k := range r.want {
		if !r.seen[k] {
			_, p, _ := strings.Cut(k, "\x00")
			missing = append(missing, quote(p))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%d changes listed in %s are no longer pending (first: %s); the baseline keeps what was recorded for them", len(missing), r.file, missing[0])
}

// who names the user running vigil: uid, login name, and the user sudo
// was run by.
func who() string {
	uid := os.Geteuid()
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	if su := os.Getenv("SUDO_USER"); su != "" {
		s += " via sudo by " + su
	}
	return s
}

// logAccepted says what Init or Update wrote, with why and by whom.
func (e *env) logAccepted(res engine.Result, o engine.Options) {
	if !res.Written {
		e.log.Info().Msg("nothing changed; baseline kept")
		return
	}
	in := res.Baseline
	ev := e.log.Info().Uint64("baseline", in.ID).Int64("entries", in.Counts.Entries).
		Str("root", in.Root.String()).Str("user", o.User)
	if o.Reason != "" {
		ev = ev.Str("reason", o.Reason)
	}
	ev.Msg("baseline written")
}
