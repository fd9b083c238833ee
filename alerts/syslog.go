package alerts

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SDID is the structured-data id of vigil's syslog element. 32473 is the
// private enterprise number RFC 5612 reserves for examples: vigil has none
// of its own.
const SDID = "vigil@32473"

// Facility values of RFC 5424 section 6.2.1 that suit vigil.
const (
	FacilityAuth     = 4
	FacilityAuthpriv = 10
	FacilityLocal0   = 16
)

// syslogSeverity maps event.severity to an RFC 5424 severity.
func syslogSeverity(s int) int {
	switch {
	case s >= SeverityCritical:
		return 2 // critical
	case s >= SeverityAlert:
		return 4 // warning
	case s >= SeverityWarning:
		return 5 // notice
	}
	return 6 // informational
}

// FormatSyslog formats ev as an RFC 5424 message: the header (version 1,
// the timestamp in UTC to microseconds, host, app name "vigil", process
// id, the action as MSGID), one structured-data element [vigil@32473 ...]
// with the event's id, action, severity, path, security tags, ATT&CK
// sub-techniques and who made the change ("by", see [Event.By]), and the
// event as JSON
// after a BOM as MSG.
func FormatSyslog(ev *Event, data []byte, facility, pid int) []byte {
	host := "-"
	if ev.Host != nil && ev.Host.Name != "" {
		host = ev.Host.Name
	}
	ts := "-"
	if !ev.Timestamp.IsZero() {
		ts = ev.Timestamp.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	b := []byte("<" + strconv.Itoa(facility*8+syslogSeverity(ev.Event.Severity)) + ">1 ")
	b = append(b, ts+" "...)
	b = append(b, headerField(host, 255)+" vigil "...)
	b = append(b, headerField(strconv.Itoa(pid), 128)+" "...)
	b = append(b, headerField(ev.Event.Action, 32)+" "...)
	b = append(b, "["+SDID...)
	param := func(name, v string) {
		if v != "" {
			b = append(b, " "+name+`="`+sdEscape(v)+`"`...)
		}
	}
	param("id", ev.Event.ID)
	param("action", ev.Event.Action)
	param("severity", strconv.Itoa(ev.Event.Severity))
	if ev.File != nil {
		param("path", ev.File.Path)
	}
	if ev.Vigil != nil {
		param("security", strings.Join(ev.Vigil.Security, ","))
	}
	if ev.Threat != nil {
		param("technique", strings.Join(ev.Threat.Technique.Subtechnique.ID, ","))
	}
	param("by", ev.By())
	b = append(b, "] \xef\xbb\xbf"...)
	return append(b, data...)
}

// headerField makes s a valid header field: printable US-ASCII without
// spaces, at most n bytes, "-" (NILVALUE) when empty.
func headerField(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdEscape escapes a PARAM-VALUE: '"', '\' and ']' get a backslash;
// invalid UTF-8 becomes U+FFFD.
func sdEscape(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// SyslogSink sends events as RFC 5424 messages: over "unixgram" (Address
// /dev/log) or "udp", one message per datagram; over "tcp" with
// octet-counting framing (RFC 6587: the length, a space, the message).
type SyslogSink struct {
	Network, Address string
	Facility         int
	Timeout          time.Duration // dial and write; 0 means 10 s
	conn             net.Conn
}

// Send implements [Sink]. A failed write drops the connection; the next
// send dials again.
func (s *SyslogSink) Send(ctx context.Context, evs []*Event, data [][]byte) (int, error) {
	for i := range evs {
		if err := s.send(ctx, evs[i], data[i]); err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

func (s *SyslogSink) send(ctx context.Context, ev *Event, data []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, s.Network, s.Address)
		if err != nil {
			return err
		}
		s.conn = c
	}
	msg := FormatSyslog(ev, data, s.Facility, pid)
	if s.Network == "tcp" {
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return errors.Join(err, s.Close())
	}
	if _, err := s.conn.Write(msg); err != nil {
		return errors.Join(err, s.Close())
	}
	return nil
}

// Close implements [Sink].
func (s *SyslogSink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
