package alerts

import "time"

// MountInfo is vigil.mount of a mount_changed event.
type MountInfo struct {
	// Change is "mounted" or "unmounted".
	Change string `json:"change"`
	FSType string `json:"fstype,omitempty"`
	Source string `json:"source,omitempty"`
}

// MountChanged returns the alert saying that a filesystem was mounted on
// (or unmounted from) path, a directory under the watched roots or above
// one: what is under it is no longer what the baseline recorded there.
func MountChanged(path string, m MountInfo, host string, now time.Time) Event {
	ev := newEvent("alert", "mount_changed", []string{"change"}, host, now)
	ev.Event.Severity = SeverityAlert
	v := &Vigil{Mount: &m}
	ev.File = &File{Type: "dir"}
	ev.File.Path, v.PathBase64 = text(path)
	ev.setVigil(v)
	return ev
}
