package alerts

import "time"

// CoalescedInfo is vigil.coalesced of an events_coalesced summary: the
// alerts of one flood window under one directory that went over the
// watch's flood limits, counted instead of sent one by one.
type CoalescedInfo struct {
	// Directory is where the paths are (their parent); Count the alerts
	// coalesced, Actions how many of each event.action.
	Directory string         `json:"directory"`
	Count     int            `json:"count"`
	Actions   map[string]int `json:"actions"`
	// Paths are the first paths coalesced, each with its distinct
	// actions in the order seen; PathsOmitted counts the paths left out.
	Paths        []CoalescedPath `json:"paths"`
	PathsOmitted int             `json:"paths_omitted,omitempty"`
	// First and Last bound when the coalesced alerts were made.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// CoalescedPath is one path of a [CoalescedInfo] and its distinct states.
type CoalescedPath struct {
	Path    string   `json:"path"`
	Actions []string `json:"actions"`
}

// Coalesced returns the events_coalesced summary of c, at severity (the
// highest of the alerts it stands for).
func Coalesced(c CoalescedInfo, severity int, host string, now time.Time) Event {
	ev := newEvent("alert", "events_coalesced", []string{"change"}, host, now)
	ev.Event.Severity = severity
	ev.Event.Duration = c.Last.Sub(c.First).Nanoseconds()
	c.First, c.Last = c.First.UTC(), c.Last.UTC()
	ev.setVigil(&Vigil{Coalesced: &c})
	return ev
}
