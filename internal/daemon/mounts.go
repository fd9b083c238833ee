package daemon

import (
	"bufio"
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/watch"
	"vigil/merkle"
)

// mount is one line of /proc/self/mountinfo, as much as the watch needs.
type mount struct {
	ID     int
	Path   string
	FSType string
	Source string
}

// parseMountinfo reads the mount table in the format of proc(5)'s
// /proc/PID/mountinfo, keyed by mount ID.
func parseMountinfo(b []byte) map[int]mount {
	out := map[int]mount{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out[id] = mount{ID: id, Path: unescapeMount(f[4]), FSType: f[sep+1], Source: unescapeMount(f[sep+2])}
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountChange is a mount added or removed.
type mountChange struct {
	mount
	Mounted bool
}

// diffMounts returns the mounts in now and not in was (mounted) and the
// other way round (unmounted), in mount ID order.
func diffMounts(was, now map[int]mount) []mountChange {
	var out []mountChange
	for _, id := range slices.Sorted(maps.Keys(now)) {
		if m, ok := was[id]; !ok || m != now[id] {
			out = append(out, mountChange{now[id], true})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(was)) {
		if m, ok := now[id]; !ok || m != was[id] {
			out = append(out, mountChange{was[id], false})
		}
	}
	return out
}

// affected returns what a mount on path changes of the roots: path
// itself when it is inside one, the roots inside it when it is above
// them; nil when it is elsewhere.
func affected(path string, roots []string) []string {
	var out []string
	for _, r := range roots {
		switch {
		case merkle.Within(path, r):
			return []string{path}
		case merkle.Within(r, path):
			out = append(out, r)
		}
	}
	return out
}

// mountsChanged reports the mount changes under (or over) the roots as
// mount_changed alerts and asks for a check of each subtree affected.
func (p *pipeline) mountsChanged(changes []mountChange) {
	now := time.Now()
	var evs []alerts.Event
	for _, c := range changes {
		scope := affected(c.Path, p.roots)
		if len(scope) == 0 {
			continue
		}
		change := "unmounted"
		if c.Mounted {
			change = "mounted"
		}
		p.o.Log.Warn().Str("path", c.Path).Str("fstype", c.FSType).Str("change", change).Msg("mount under the watched roots changed; checking the subtree")
		evs = append(evs, alerts.MountChanged(c.Path, alerts.MountInfo{Change: change, FSType: c.FSType, Source: c.Source}, p.o.Host, now))
		for _, s := range scope {
			p.settler.Add(watch.Event{Path: s, Op: watch.Changed, First: now})
		}
		if p.remade != nil {
			p.remade.remake(scope...) // a new mount gets its mark, or its watches
		}
	}
	if len(evs) == 0 {
		return
	}
	p.st.alerts.Add(int64(len(evs)))
	if err := p.disp.Publish(evs...); err != nil {
		p.o.Log.Error().Err(err).Msg("mount_changed not published")
	}
}
