package daemon

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/merkle"
)

// Flood limits' defaults (see config.Watch.FloodLimit).
const (
	defaultFloodLimit    = 10
	defaultFloodDirLimit = 100
	defaultFloodWindow   = time.Minute
	// coalescedPaths bounds the paths a summary names.
	coalescedPaths = 20
)

// flood coalesces the alerts over the flood limits: per window, a path
// with more than its limit of alerts, or a directory with more than its
// limit of churning entries (created, and resolved: names that come and
// go, not in the baseline), has its further alerts counted into one
// events_coalesced summary per directory, sent when the window ends;
// changes of recorded paths (updated, deleted, ...) count per path only,
// so a package upgrade rewriting a directory is reported path by path; a
// directory whose only change is its own mtime and ctime is reported once
// per window (its size, and its FS_INDEX_FL flag, too: entries make it
// grow). Critical alerts, events without a path and the alerts a
// remediation wants are never coalesced. It is used from the verifier's
// goroutine.
type flood struct {
	window              time.Duration
	pathLimit, dirLimit int
	// ruleLimit returns the flood_limit of the rule deciding a path, 0
	// if none; keep, if set, says an event must not be coalesced.
	ruleLimit func(path string) int
	keep      func(ev *alerts.Event) bool
	host      string
	total     atomic.Int64 // alerts coalesced, for the metric

	start   time.Time
	perPath map[string]int
	perDir  map[string]int
	dirSeen map[string]bool
	sums    map[string]*coalesce
	order   []string // directories in the order first coalesced
}

type coalesce struct {
	info     alerts.CoalescedInfo
	severity int
	idx      map[string]int // path to its index in info.Paths
}

func newFlood(c *config.Config, m *config.Matcher, host string) *flood {
	f := &flood{window: c.Watch.FloodWindow, pathLimit: c.Watch.FloodLimit, dirLimit: c.Watch.FloodDirLimit, host: host}
	if f.window <= 0 {
		f.window = defaultFloodWindow
	}
	if f.pathLimit <= 0 {
		f.pathLimit = defaultFloodLimit
	}
	if f.dirLimit <= 0 {
		f.dirLimit = defaultFloodDirLimit
	}
	f.ruleLimit = func(path string) int {
		if i := m.Rule(path); i >= 0 && i < len(c.Rules) {
			return c.Rules[i].FloodLimit
		}
		return 0
	}
	f.reset(time.Time{})
	return f
}

func (f *flood) reset(now time.Time) {
	f.start = now
	f.perPath, f.perDir, f.dirSeen = map[string]int{}, map[string]int{}, map[string]bool{}
	f.sums, f.order = map[string]*coalesce{}, nil
}

func (f *flood) limit(path string, def int) int {
	if n := f.ruleLimit(path); n > 0 {
		return n
	}
	return def
}

// filter returns the events of evs to publish now; the rest are counted
// for the window's summaries.
func (f *flood) filter(evs []alerts.Event, now time.Time) []alerts.Event {
	if f.start.IsZero() {
		f.start = now
	}
	out := evs[:0:0]
	for i := range evs {
		ev := &evs[i]
		if ev.File == nil || ev.File.Path == "" || ev.Event.Severity >= alerts.SeverityCritical || (f.keep != nil && f.keep(ev)) {
			out = append(out, *ev)
			continue
		}
		path := ev.File.Path
		if dirTimesOnly(ev) {
			if f.dirSeen[path] {
				f.add(path, ev, now)
				continue
			}
			f.dirSeen[path] = true
			out = append(out, *ev)
			continue
		}
		dir := merkle.Parent(path)
		f.perPath[path]++
		if churn(ev) {
			f.perDir[dir]++
		}
		if f.perPath[path] > f.limit(path, f.pathLimit) || churn(ev) && f.perDir[dir] > f.limit(dir, f.dirLimit) {
			f.add(dir, ev, now)
			continue
		}
		out = append(out, *ev)
	}
	return out
}

// churn says ev is about a name that came or went outside the baseline:
// created, resolved (gone again), or transient (came and went before it
// was verified: a temp file's whole life).
func churn(ev *alerts.Event) bool {
	return ev.Event.Action == "created" || ev.Event.Action == "resolved" || ev.Event.Action == "transient"
}

// dirTimesOnly says ev is about a directory whose only change is its own
// mtime, ctime or size: what adding and removing entries does to it.
func dirTimesOnly(ev *alerts.Event) bool {
	if ev.File.Type != "dir" || ev.Vigil == nil || len(ev.Vigil.Changed) == 0 {
		return false
	}
	for _, c := range ev.Vigil.Changed {
		switch c {
		case "mtime", "ctime", "size":
		case "flags":
			if !indexFlagOnly(ev.Vigil) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fsIndexFlag is FS_INDEX_FL ("I" in lsattr): the filesystem sets it on a
// directory grown big enough for a hashed index.
const fsIndexFlag = 0x1000

// indexFlagOnly says the inode flags of v differ from its baseline's in
// FS_INDEX_FL alone.
func indexFlagOnly(v *alerts.Vigil) bool {
	if v.Previous == nil {
		return false
	}
	now, err1 := strconv.ParseUint(strings.TrimPrefix(v.Flags, "0x"), 16, 32)
	was, err2 := strconv.ParseUint(strings.TrimPrefix(v.Previous.Flags, "0x"), 16, 32)
	return err1 == nil && err2 == nil && (now^was)&^fsIndexFlag == 0
}

func (f *flood) add(dir string, ev *alerts.Event, now time.Time) {
	f.total.Add(1)
	s := f.sums[dir]
	if s == nil {
		s = &coalesce{info: alerts.CoalescedInfo{Directory: dir, Actions: map[string]int{}, First: now}, idx: map[string]int{}}
		f.sums[dir] = s
		f.order = append(f.order, dir)
	}
	s.info.Count++
	s.info.Actions[ev.Event.Action]++
	s.info.Last = now
	s.severity = max(s.severity, ev.Event.Severity)
	path := ev.File.Path
	i, ok := s.idx[path]
	switch {
	case ok && i >= 0:
		if p := &s.info.Paths[i]; !slices.Contains(p.Actions, ev.Event.Action) {
			p.Actions = append(p.Actions, ev.Event.Action)
		}
	case ok: // among the omitted
	case len(s.info.Paths) < coalescedPaths:
		s.idx[path] = len(s.info.Paths)
		s.info.Paths = append(s.info.Paths, alerts.CoalescedPath{Path: path, Actions: []string{ev.Event.Action}})
	default:
		s.idx[path] = -1 // counted once among the omitted
		s.info.PathsOmitted++
	}
}

// flush returns the summaries of the window and starts the next one, if
// the window is over at now or force is set; else nothing.
func (f *flood) flush(now time.Time, force bool) []alerts.Event {
	if !force && (f.start.IsZero() || now.Before(f.start.Add(f.window))) {
		return nil
	}
	var out []alerts.Event
	for _, dir := range f.order {
		s := f.sums[dir]
		out = append(out, alerts.Coalesced(s.info, s.severity, f.host, now))
	}
	f.reset(time.Time{})
	return out
}
