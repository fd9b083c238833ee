package config

import (
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

// Watch configures the watch daemon ([watch] in the file).
type Watch struct {
	// Settle is how long a path must be quiet before it is verified; 0
	// means the watch's default (100 ms).
	Settle time.Duration
	// MaxSettle bounds the delay for a path written continuously; 0 means
	// the default (2 s).
	MaxSettle time.Duration
	// ScanInterval is the period of catch-up scans (stat cache trusted);
	// 0 means 1 hour.
	ScanInterval time.Duration
	// FullScanInterval is the period of full scans (every file reread:
	// catches writes through mmap); 0 means 24 hours.
	FullScanInterval time.Duration
	// Outbox is the bbolt file of undelivered events; "" means the
	// database's path with ".outbox" appended.
	Outbox string
	// OutboxMax bounds each sink's queue; 0 means 100,000.
	OutboxMax int
	// Listen is the address of the HTTP listener (/metrics, /healthz,
	// /status); "" means none.
	Listen string
	// Intake is the source of change events: "fanotify" (whole
	// filesystems, and who made each change; needs CAP_SYS_ADMIN),
	// "inotify", or "auto" (fanotify where it works, else inotify); ""
	// means auto.
	Intake string
}

// Intakes are the values watch.intake takes.
var intakes = []string{"auto", "fanotify", "inotify"}

// Sink is one [[sink]] table: where the watch delivers events.
type Sink struct {
	Type string // stdout, file, webhook, syslog, nats, exec
	// MinSeverity (min_severity) drops events below it: info, warning,
	// alert, critical or a number.
	MinSeverity string
	// Paths, if set, are doublestar globs file.path must match.
	Paths []string
	// NoDiff (diff = false) leaves vigil.diff, the diffs of kept
	// content, out of the events the sink gets.
	NoDiff bool
	// file
	Path    string
	MaxSize int64
	Keep    int
	// webhook
	URL        string
	Timeout    time.Duration
	Retries    int
	Backoff    time.Duration
	SecretFile string // HMAC key, read at start
	// syslog: network unixgram (address /dev/log), udp or tcp
	Network, Address, Facility string
	// nats (JetStream); URL as above
	Subject   string
	CredsFile string
	// exec: argv (no shell), the event on stdin; timeout as above
	Command []string
}

// SinkTypes are the sink types the watch knows.
var sinkTypes = []string{"stdout", "file", "webhook", "syslog", "nats", "exec"}

// Facilities are the syslog facilities a sink may name.
var facilities = map[string]int{"auth": 4, "authpriv": 10, "daemon": 3, "user": 1,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// FacilityCode returns the RFC 5424 code of a facility name ("" is
// authpriv).
func FacilityCode(name string) int {
	if name == "" {
		return facilities["authpriv"]
	}
	return facilities[name]
}

// MatchPath reports whether path matches one of s.Paths (doublestar
// globs, as doublestar.Match reads them; a malformed one matches nothing).
// A sink without Paths matches every path.
func (s Sink) MatchPath(path string) bool {
	if len(s.Paths) == 0 {
		return true
	}
	for _, g := range s.Paths {
		if ok, _ := doublestar.Match(g, path); ok {
			return true
		}
	}
	return false
}

// OutboxPath returns the outbox file: Watch.Outbox or the database's path
// with ".outbox" appended.
func (c *Config) OutboxPath() string {
	if c.Watch.Outbox != "" {
		return c.Watch.Outbox
	}
	return c.Database + ".outbox"
}

func (d *decoder) duration(key keyPath, v any, dst *time.Duration) {
	s, ok := v.(string)
	if !ok {
		d.wrongType(key, v, `string such as "100ms" or "1h"`)
		return
	}
	t, err := time.ParseDuration(s)
	if err != nil || t < 0 {
		d.problemf(key, "%q is not a duration such as \"100ms\" or \"1h\"", s)
		d.bad = append(d.bad, key)
		return
	}
	*dst = t
}

func (d *decoder) watch(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	w := &c.Watch
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch k := key.key(name); name {
		case "settle":
			d.duration(k, m[name], &w.Settle)
		case "max_settle":
			d.duration(k, m[name], &w.MaxSettle)
		case "scan_interval":
			d.duration(k, m[name], &w.ScanInterval)
		case "full_scan_interval":
			d.duration(k, m[name], &w.FullScanInterval)
		case "outbox":
			d.str(k, m[name], &w.Outbox)
		case "outbox_max":
			d.integer(k, m[name], &w.OutboxMax)
		case "listen":
			d.str(k, m[name], &w.Listen)
		case "intake":
			d.str(k, m[name], &w.Intake)
		default:
			d.problemf(k, "unknown key")
		}
	}
}

func (d *decoder) sinks(key keyPath, v any) []Sink {
	ts, ok := d.tables(key, v)
	if !ok {
		return nil
	}
	out := make([]Sink, len(ts))
	for i, m := range ts {
		if m != nil {
			out[i] = d.sink(key.index(i), m)
		}
	}
	return out
}

// sinkKeys are the keys each sink type takes besides type, min_severity
// and paths.
var sinkKeys = map[string][]string{
	"stdout":  nil,
	"file":    {"path", "max_size", "keep"},
	"webhook": {"url", "timeout", "retries", "backoff", "secret_file"},
	"syslog":  {"network", "address", "facility", "timeout"},
	"nats":    {"url", "subject", "timeout", "creds_file"},
	"exec":    {"command", "timeout"},
}

func (d *decoder) sink(key keyPath, m map[string]any) Sink {
	var s Sink
	if t, ok := m["type"]; ok {
		d.str(key.key("type"), t, &s.Type)
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		k, v := key.key(name), m[name]
		switch name {
		case "type":
			continue
		case "min_severity":
			d.str(k, v, &s.MinSeverity)
			continue
		case "paths":
			s.Paths = d.strings(k, v)
			continue
		case "diff":
			var diff bool
			d.boolean(k, v, &diff)
			s.NoDiff = !diff
			continue
		}
		if keys, known := sinkKeys[s.Type]; known && !slices.Contains(keys, name) {
			d.problemf(k, "not a key of a %s sink (it takes %s)", s.Type, keyList(keys))
			continue
		}
		switch name {
		case "path":
			d.str(k, v, &s.Path)
		case "max_size":
			d.size(k, v, &s.MaxSize)
		case "keep":
			d.integer(k, v, &s.Keep)
		case "url":
			d.str(k, v, &s.URL)
		case "timeout":
			d.duration(k, v, &s.Timeout)
		case "retries":
			d.integer(k, v, &s.Retries)
		case "backoff":
			d.duration(k, v, &s.Backoff)
		case "secret_file":
			d.str(k, v, &s.SecretFile)
		case "network":
			d.str(k, v, &s.Network)
		case "address":
			d.str(k, v, &s.Address)
		case "facility":
			d.str(k, v, &s.Facility)
		case "command":
			s.Command = d.strings(k, v)
		case "subject":
			d.str(k, v, &s.Subject)
		case "creds_file":
			d.str(k, v, &s.CredsFile)
		default:
			d.problemf(k, "unknown key")
		}
	}
	return s
}

func keyList(keys []string) string {
	if len(keys) == 0 {
		return "no keys besides type, min_severity and paths"
	}
	return strings.Join(keys, ", ")
}

// watchProblems checks [watch] and the sinks.
func (c *Config) watchProblems() []problem {
	var ps []problem
	w, key := c.Watch, keyPath{"watch"}
	if w.MaxSettle > 0 && w.Settle > w.MaxSettle {
		ps = append(ps, problemf(key.key("max_settle"), "%v is shorter than settle (%v)", w.MaxSettle, w.Settle))
	}
	if w.OutboxMax < 0 {
		ps = append(ps, problemf(key.key("outbox_max"), "must not be negative, got %d", w.OutboxMax))
	}
	if w.Intake != "" && !slices.Contains(intakes, w.Intake) {
		ps = append(ps, problemf(key.key("intake"), "%q is not one of %s", w.Intake, strings.Join(intakes, ", ")))
	}
	if w.Outbox != "" && !filepath.IsAbs(w.Outbox) {
		ps = append(ps, problemf(key.key("outbox"), "%q is not an absolute path", w.Outbox))
	}
	if w.Listen != "" {
		if _, _, err := net.SplitHostPort(w.Listen); err != nil {
			ps = append(ps, problemf(key.key("listen"), "%q is not host:port (%v)", w.Listen, err))
		}
	}
	for i, s := range c.Sinks {
		ps = append(ps, s.problems(keyPath{"sink"}.index(i))...)
	}
	return ps
}

func (s Sink) problems(key keyPath) []problem {
	var ps []problem
	bad := func(k, format string, args ...any) { ps = append(ps, problemf(key.key(k), format, args...)) }
	if !slices.Contains(sinkTypes, s.Type) {
		if s.Type == "" {
			ps = append(ps, problemf(key, "needs a type: one of %s", strings.Join(sinkTypes, ", ")))
		} else {
			bad("type", "%q is not a sink type: one of %s", s.Type, strings.Join(sinkTypes, ", "))
		}
		return ps
	}
	if s.MinSeverity != "" && !validSeverity(s.MinSeverity) {
		bad("min_severity", "%q is not a severity: info, learning, warning, alert, critical or 0 to 100", s.MinSeverity)
	}
	ps = append(ps, patternProblems(key.key("paths"), s.Paths)...)
	switch s.Type {
	case "file":
		if !filepath.IsAbs(s.Path) {
			bad("path", "needs an absolute path, got %q", s.Path)
		}
		if s.MaxSize < 0 || s.Keep < 0 {
			bad("max_size", "max_size and keep must not be negative")
		}
	case "webhook":
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url", "needs an http or https URL, got %q", s.URL)
		}
		if s.Retries < 0 {
			bad("retries", "must not be negative, got %d", s.Retries)
		}
		if s.SecretFile != "" && !filepath.IsAbs(s.SecretFile) {
			bad("secret_file", "%q is not an absolute path", s.SecretFile)
		}
	case "syslog":
		switch s.Network {
		case "", "unixgram":
			if s.Address != "" && !filepath.IsAbs(s.Address) {
				bad("address", "a unixgram syslog needs the socket's absolute path (default /dev/log), got %q", s.Address)
			}
		case "udp", "tcp":
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				bad("address", "a %s syslog needs host:port, got %q", s.Network, s.Address)
			}
		default:
			bad("network", "%q is not unixgram, udp or tcp", s.Network)
		}
		if _, ok := facilities[s.Facility]; s.Facility != "" && !ok {
			bad("facility", "%q is not a facility (auth, authpriv, daemon, user, local0 to local7)", s.Facility)
		}
	case "exec":
		if len(s.Command) == 0 || !filepath.IsAbs(s.Command[0]) {
			bad("command", "needs an argv whose program is an absolute path, got %q", s.Command)
		}
	case "nats":
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			bad("url", "needs a nats:// or tls:// URL, got %q", s.URL)
		}
		if strings.ContainsAny(s.Subject, " \t*>") {
			bad("subject", "%q is not a literal subject", s.Subject)
		}
		if s.CredsFile != "" && !filepath.IsAbs(s.CredsFile) {
			bad("creds_file", "%q is not an absolute path", s.CredsFile)
		}
	}
	return ps
}

func validSeverity(s string) bool {
	switch s {
	case "info", "learning", "warning", "alert", "critical":
		return true
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
		if n > 100 {
			return false
		}
	}
	return s != ""
}
