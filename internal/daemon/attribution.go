package daemon

import (
	"strings"

	"vigil/alerts"
	"vigil/internal/watch"
	"vigil/merkle"
)

// processes maps each path of evs to the process its hints named last
// (fanotify's); nil when none did.
func processes(evs []watch.Event) map[string]*watch.Process {
	var m map[string]*watch.Process
	for _, ev := range evs {
		if ev.Process == nil {
			continue
		}
		if m == nil {
			m = map[string]*watch.Process{}
		}
		m[ev.Path] = ev.Process
	}
	return m
}

// process returns who made ch, when a hint said: of its path, or of a
// move's old path.
func (c *collect) process(ch merkle.Change) *watch.Process {
	if p := c.procs[ch.Path]; p != nil || ch.Old == nil {
		return p
	}
	return c.procs[ch.Old.Path]
}

// attribute records in ev the process that made its change, as ECS
// process.* and user.* fields.
func attribute(ev *alerts.Event, p *watch.Process) {
	if p == nil || p.PID == 0 {
		return
	}
	ap := &alerts.Process{PID: p.PID, Name: p.Name, Executable: p.Executable, Args: p.Args}
	if len(p.Args) > 0 {
		ap.CommandLine = strings.Join(p.Args, " ")
	}
	if p.PPID != 0 {
		ap.Parent = &alerts.ProcessParent{PID: p.PPID}
	}
	ev.Process = ap
	if p.UID != "" {
		ev.User = &alerts.User{ID: p.UID, Name: p.User}
	}
}
