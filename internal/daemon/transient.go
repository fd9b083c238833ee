package daemon

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/watch"
	"vigil/merkle"
)

// Transients: a hint whose path is back in its baseline state by the time
// it is verified still says something happened there. When a hint
// arrives, before its settle window, the daemon takes a quick look at the
// path (lstat, and for a small executable or a file whose rule ignores
// mtime or ctime its content hash: [engine.Glimpse]). When the settled
// path is verified and the check finds it as recorded (or different only
// in attributes such a look does not compare: times), each state seen in
// between that differed from the final one in type, content, mode, owner,
// size or inode, or a path that was there and is gone again, is a
// transient event: file.* the state seen, vigil.previous the final
// (baseline) state, vigil.changed what differed, at the severity the
// rule and the phase give the same change.
//
// # Caveats
//
// A state that came and went between two looks is not seen: a path whose
// hints all found it absent, now absent and not in the baseline, is
// reported as created and deleted with nothing known of it. Content is
// compared only where both looks hashed it (small files, see
// earlyHashMax); otherwise a different size or inode stands for it.

// earlyHashMax bounds the files read when their hint arrives: the intake
// must not wait on a big read.
const earlyHashMax = 1 << 20

// maxSeenStates bounds the states remembered per path between two
// verifications, maxSeenPaths the paths: beyond it new paths are not
// looked at early (the verification still checks them).
const (
	maxSeenStates = 8
	maxSeenPaths  = 1 << 16
)

// transientAttrs are the attributes a transient state is compared in: not
// the times (the final state's are always later), nor what a look does
// not read (xattrs, flags).
const transientAttrs = merkle.AttrType | merkle.AttrContent | merkle.AttrMode | merkle.AttrUID | merkle.AttrGID |
	merkle.AttrSize | merkle.AttrInode | merkle.AttrTarget

// seenState is one early look at a path.
type seenState struct {
	e  *merkle.Entry // nil: the path did not exist
	at time.Time
	// proc is who made the change, when the intake knows it (fanotify);
	// nil otherwise. It becomes the event's process and user fields.
	proc *watch.Process
}

// looks holds the early looks taken since the last verification. The
// intake's goroutine adds, the verifier's takes.
type looks struct {
	mu     sync.Mutex
	seen   map[string][]seenState
	failed int // looks that could not be taken (not lstat-able, unreadable)
}

// look records the state of the path ev hints at, now. m decides whether
// its content is hashed: for a rule ignoring mtime or ctime, where a swap
// and back leaves nothing else, and for an executable.
func (l *looks) look(ev watch.Event, m *config.Matcher) {
	if !ev.Op.Has(watch.Changed) || ev.Path == "" {
		return
	}
	attrs, excluded := m.Match(ev.Path)
	if excluded {
		return
	}
	l.mu.Lock()
	full := len(l.seen) >= maxSeenPaths && l.seen[ev.Path] == nil
	l.mu.Unlock()
	if full {
		return
	}
	e, err := engine.Glimpse(ev.Path, earlyHashMax, func(e *merkle.Entry) bool {
		return attrs.Has(merkle.AttrContent) &&
			(!attrs.Has(merkle.AttrMtime) || !attrs.Has(merkle.AttrCtime) || e.Perm&0o7111 != 0)
	})
	s := seenState{e: e, at: ev.First, proc: ev.Process}
	if s.at.IsZero() {
		s.at = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if e == nil {
			return
		}
	}
	if l.seen == nil {
		l.seen = map[string][]seenState{}
	}
	ss := l.seen[ev.Path]
	if n := len(ss); n > 0 && sameSeen(ss[n-1].e, e) || n >= maxSeenStates {
		return
	}
	l.seen[ev.Path] = append(ss, s)
}

// take returns and forgets the looks at paths; all of them with all.
func (l *looks) take(paths []string, all bool) map[string][]seenState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if all {
		out := l.seen
		l.seen = nil
		return out
	}
	out := map[string][]seenState{}
	for _, p := range paths {
		if ss, ok := l.seen[p]; ok {
			out[p] = ss
			delete(l.seen, p)
		}
	}
	return out
}

// sameSeen reports whether two looks saw the same state.
func sameSeen(a, b *merkle.Entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type == b.Type && a.Perm == b.Perm && a.UID == b.UID && a.GID == b.GID && a.Size == b.Size &&
		a.Mtime == b.Mtime && a.Ctime == b.Ctime && a.Inode == b.Inode && a.HashState == b.HashState && a.Hash == b.Hash
}

// transients adds the transient events of the paths looked at early that
// the check found as recorded (see the comment at the top). whole: the
// check covered everything, so every path looked at is judged.
func (c *collect) transients(evs []watch.Event, whole bool, m *config.Matcher, roots []string) {
	var paths []string
	for _, ev := range evs {
		paths = append(paths, ev.Path)
	}
	taken := c.v.early.take(paths, whole)
	for _, p := range slices.Sorted(maps.Keys(taken)) {
		ss := taken[p]
		if !c.judged(p, m, roots) {
			continue
		}
		attrs, _ := m.Match(p)
		hash := false
		for _, s := range ss {
			hash = hash || s.e != nil && s.e.HashState == merkle.HashOK
		}
		var limit int64
		if hash {
			limit = earlyHashMax
		}
		final, err := engine.Glimpse(p, limit, nil)
		if err != nil {
			continue // the check itself reported what it could not read
		}
		if ev, ok := transientEvent(p, ss, final, attrs, c.v.host, c.now); ok {
			ev.SetPhase(c.phase)
			ev.SetID(c.scope + ":transient:" + strconv.FormatInt(ss[0].at.UnixNano(), 10))
			c.out = append(c.out, ev)
		}
	}
}

// judged reports whether path's looks are to be judged: inside the roots,
// not excluded, and not already the subject of a finding that says it
// differs from the baseline (only attributes_modified may stand beside a
// transient: it says nothing of the states in between).
func (c *collect) judged(p string, m *config.Matcher, roots []string) bool {
	if _, excluded := m.Match(p); excluded || !merkle.ValidPath(p) {
		return false
	}
	in := false
	for _, r := range roots {
		in = in || merkle.Within(p, r)
	}
	if !in {
		return false
	}
	if c.restored[p] || c.v.restoreTemp(p) {
		return false // what a restore did in between is its own event
	}
	if a, changed := c.changes[p]; changed {
		return a == merkle.AttributesModified
	}
	return !c.seen[p] // an error, or the old name of a move
}

// who is the process of the state picked, or else of any state seen.
func who(pick *seenState, ss []seenState) *watch.Process {
	if pick != nil && pick.proc != nil {
		return pick.proc
	}
	for _, s := range ss {
		if s.proc != nil {
			return s.proc
		}
	}
	return nil
}

// transientEvent returns the event for the states ss seen at path p when
// it is now final (nil: absent), judged in attrs; ok false when none of
// them differed from final.
func transientEvent(p string, ss []seenState, final *merkle.Entry, attrs merkle.Attr, host string, now time.Time) (alerts.Event, bool) {
	mask := attrs & transientAttrs
	var pick *seenState
	var diff merkle.Attr
	for i := range ss {
		s := &ss[i]
		switch {
		case s.e == nil && final == nil:
		case s.e == nil || final == nil:
			if pick == nil {
				pick = s
			}
		default:
			a, b := *final, *s.e
			a.Attrs, b.Attrs = mask, mask
			if d := merkle.Compare(&a, &b); d != 0 && (pick == nil || pick.e == nil || d&merkle.AttrContent != 0 && diff&merkle.AttrContent == 0) {
				pick, diff = s, d
			}
		}
	}
	allAbsent := final == nil && pick == nil
	if pick == nil && !allAbsent {
		return alerts.Event{}, false
	}
	var ev alerts.Event
	types := []string{"change"}
	switch {
	case allAbsent: // hinted, never seen, gone: created and deleted
		ev = alerts.FromChange(merkle.Change{Action: merkle.Created, Path: p}, host, now)
		types = []string{"creation", "deletion"}
	case final == nil: // seen, gone again
		e := *pick.e
		e.Attrs = attrs
		ev = alerts.FromChange(merkle.Change{Action: merkle.Created, Path: p, New: &e}, host, now)
		types = []string{"creation", "deletion"}
	case pick.e == nil: // gone for a while, back as recorded
		e := *final
		e.Attrs = attrs
		ev = alerts.FromChange(merkle.Change{Action: merkle.Deleted, Path: p, Old: &e}, host, now)
		types = []string{"deletion", "creation"}
	default:
		o, n := *final, *pick.e
		o.Attrs, n.Attrs = attrs, attrs
		ev = alerts.FromChange(merkle.Change{Action: merkle.Updated, Path: p, Old: &o, New: &n, Changed: diff}, host, now)
	}
	ev.Event.Action = "transient"
	ev.Event.Type = types
	ev.Event.Severity = alerts.SeverityAlert
	attribute(&ev, who(pick, ss))
	return ev, true
}
