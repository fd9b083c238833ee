package config

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWatchAndSinks(t *testing.T) {
	c, err := Parse("w.toml", []byte(`roots = ["/etc"]
database = "/var/lib/vigil/vigil.db"
[watch]
settle = "50ms"
max_settle = "1s"
scan_interval = "30m"
listen = "127.0.0.1:9100"
intake = "fanotify"
[[sink]]
type = "file"
path = "/var/log/vigil/events.json"
max_size = "10MiB"
min_severity = "alert"
paths = ["/etc/**"]
[[sink]]
type = "webhook"
url = "https://siem.example/in"
retries = 3
timeout = "5s"
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Watch{Settle: 50 * time.Millisecond, MaxSettle: time.Second, ScanInterval: 30 * time.Minute, Listen: "127.0.0.1:9100", Intake: "fanotify"}
	if diff := cmp.Diff(want, c.Watch); diff != "" {
		t.Errorf("Watch (-want +got):\n%s", diff)
	}
	wantSinks := []Sink{
		{Type: "file", Path: "/var/log/vigil/events.json", MaxSize: 10 << 20, MinSeverity: "alert", Paths: []string{"/etc/**"}},
		{Type: "webhook", URL: "https://siem.example/in", Retries: 3, Timeout: 5 * time.Second},
	}
	if diff := cmp.Diff(wantSinks, c.Sinks); diff != "" {
		t.Errorf("Sinks (-want +got):\n%s", diff)
	}
	if got := c.OutboxPath(); got != "/var/lib/vigil/vigil.db.outbox" {
		t.Errorf("OutboxPath() = %q, want the database's path + .outbox", got)
	}
}

func TestWatchProblems(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // FILE:LINE: key: message
	}{
		{"bad duration", "[watch]\nmax_settle = \"fast\"\n",
			[]string{`w.toml:3: watch.max_settle: "fast" is not a duration such as "100ms" or "1h"`}},
		{"unknown intake", "[watch]\nintake = \"ebpf\"\n",
			[]string{`w.toml:3: watch.intake: "ebpf" is not one of auto, fanotify, inotify`}},
		{"sink without type", "[[sink]]\npath = \"/x\"\n",
			[]string{`w.toml:2: sink[0]: needs a type: one of stdout, file, webhook, syslog, nats, exec`}},
		{"key of another type", "[[sink]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\npath = \"/x\"\n",
			[]string{`w.toml:5: sink[0].path: not a key of a webhook sink (it takes url, timeout, retries, backoff, secret_file)`}},
		{"syslog socket not absolute", "[[sink]]\ntype = \"syslog\"\naddress = \"dev/log\"\n",
			[]string{`w.toml:4: sink[0].address: a unixgram syslog needs the socket's absolute path (default /dev/log), got "dev/log"`}},
		{"syslog tcp without port", "[[sink]]\ntype = \"syslog\"\nnetwork = \"tcp\"\naddress = \"h\"\n",
			[]string{`w.toml:5: sink[0].address: a tcp syslog needs host:port, got "h"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.toml", []byte("roots = [\"/etc\"]\n"+tc.text))
			var got []string
			for _, e := range unwrapAll(err) {
				var p *Problem
				if errors.As(e, &p) {
					got = append(got, p.Error())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse problems (-want +got):\n%s", diff)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestSinkMatchPath(t *testing.T) {
	for _, tt := range []struct {
		name  string
		paths []string
		path  string
		want  bool
	}{
		{"no paths: every path", nil, "/etc/passwd", true},
		{"double star", []string{"/etc/**"}, "/etc/ssh/sshd_config", true},
		{"outside", []string{"/etc/**"}, "/usr/bin/su", false},
		{"second glob", []string{"/boot/*", "/usr/bin/s*"}, "/usr/bin/su", true},
		{"star stops at a slash", []string{"/usr/*"}, "/usr/bin/su", false},
		{"malformed glob matches nothing", []string{"/etc/[a"}, "/etc/a", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Sink{Paths: tt.paths}).MatchPath(tt.path); got != tt.want {
				t.Errorf("Sink{Paths: %q}.MatchPath(%q) = %v, want %v", tt.paths, tt.path, got, tt.want)
			}
		})
	}
}
