package alerts

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

func TestFormatSyslog(t *testing.T) {
	ev := Resolved(`/etc/a"b]c\d`, "web-1", time.Date(2025, 3, 1, 11, 30, 45, 123456789, time.UTC))
	ev.SetID("baseline 1")
	got := string(FormatSyslog(&ev, []byte(`{}`), FacilityAuthpriv, 42))
	want := `<86>1 2025-03-01T11:30:45.123456Z web-1 vigil 42 resolved [vigil@32473 id="` + ev.Event.ID +
		`" action="resolved" severity="1" path="/etc/a\"b\]c\\d"] ` + "\ufeff{}"
	if got != want {
		t.Errorf("FormatSyslog =\n%q\nwant\n%q", got, want)
	}
}

func TestSyslogTCPOctetCounting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 2)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for range 2 {
			n, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			buf := make([]byte, size)
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			got <- string(buf)
		}
	}()
	s := &SyslogSink{Network: "tcp", Address: ln.Addr().String(), Facility: FacilityAuth, Timeout: 5 * time.Second}
	defer s.Close()
	for _, p := range []string{"/etc/one", "/etc/two"} {
		ev := Resolved(p, "h", time.Now())
		if _, err := s.Send(context.Background(), []*Event{&ev}, [][]byte{[]byte(`{"x":1}`)}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	for _, p := range []string{"/etc/one", "/etc/two"} {
		select {
		case m := <-got:
			if !strings.HasPrefix(m, "<38>1 ") || !strings.Contains(m, `path="`+p+`"`) || !strings.HasSuffix(m, `{"x":1}`) {
				t.Errorf("message = %q, want <38>1 ... path=%q ... the JSON", m, p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no framed message within 5s")
		}
	}
}

// syslogEvents are two events whose RFC 5424 messages the datagram tests
// expect byte for byte: a change in the hardened phase (severity alert:
// RFC 5424 warning) with a path that needs escaping in structured data,
// and a resolve (informational).
func syslogEvents(t *testing.T) ([]*Event, [][]byte, []string) {
	t.Helper()
	at := time.Date(2025, 3, 1, 11, 30, 45, 987654321, time.UTC)
	alert := Notice("updated", "", "web-1", at)
	alert.Event.Category, alert.Event.Type = []string{"file"}, []string{"change"}
	alert.Event.Severity = SeverityAlert
	alert.File = &File{Path: `/etc/sudoers.d/x"y]z\w`}
	alert.SetID("1:ab")
	resolved := Resolved("/etc/hosts", "web-1", at.Add(time.Second))
	resolved.SetID("1:ab:resolved")
	evs := []*Event{&alert, &resolved}
	data := [][]byte{[]byte(`{"event":{"action":"updated"}}`), []byte(`{"event":{"action":"resolved"}}`)}
	p := strconv.Itoa(pid)
	want := []string{
		// authpriv (10) * 8 + warning (4) = 84
		`<84>1 2025-03-01T11:30:45.987654Z web-1 vigil ` + p + ` updated [vigil@32473 id="` + alert.Event.ID +
			`" action="updated" severity="7" path="/etc/sudoers.d/x\"y\]z\\w"] ` + "\ufeff" + string(data[0]),
		// authpriv * 8 + informational (6) = 86
		`<86>1 2025-03-01T11:30:46.987654Z web-1 vigil ` + p + ` resolved [vigil@32473 id="` + resolved.Event.ID +
			`" action="resolved" severity="1" path="/etc/hosts"] ` + "\ufeff" + string(data[1]),
	}
	return evs, data, want
}

// readDatagrams reads n datagrams from c, each within a bounded wait.
func readDatagrams(t *testing.T, c net.PacketConn, n int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 64<<10)
	for range n {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reading datagram %d of %d: %v", len(out)+1, n, err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

// TestSyslogUnixgram: the default transport, a unix datagram socket (here
// a real one at a temporary path standing in for /dev/log): one message
// per datagram, no framing, no trailing newline, exact RFC 5424 header and
// structured data. When the socket goes away (syslogd restarting) a send
// fails and the next one reaches the new socket.
func TestSyslogUnixgram(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	listen := func() *net.UnixConn {
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ln := listen()
	defer func() { ln.Close() }()
	evs, data, want := syslogEvents(t)
	s := &SyslogSink{Network: "unixgram", Address: sock, Facility: FacilityAuthpriv, Timeout: 5 * time.Second}
	defer s.Close()
	if n, err := s.Send(context.Background(), evs, data); n != 2 || err != nil {
		t.Fatalf("Send to %s = %d, %v; want 2 accepted", sock, n, err)
	}
	if diff := cmp.Diff(want, readDatagrams(t, ln, 2)); diff != "" {
		t.Errorf("datagrams on %s (-want +got):\n%s", sock, diff)
	}

	ln.Close()
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Send(context.Background(), evs[:1], data[:1]); n != 0 || err == nil {
		t.Fatalf("Send with the socket gone = %d, %v; want 0 and an error (the event stays queued)", n, err)
	}
	ln = listen()
	if n, err := s.Send(context.Background(), evs[1:], data[1:]); n != 1 || err != nil {
		t.Fatalf("Send to the new socket = %d, %v; want 1 accepted", n, err)
	}
	if diff := cmp.Diff(want[1:], readDatagrams(t, ln, 1)); diff != "" {
		t.Errorf("datagram on the new socket (-want +got):\n%s", diff)
	}
}

// TestSyslogUDP: RFC 5424 over UDP to a real listener on 127.0.0.1: one
// message per datagram (RFC 5426), byte for byte.
func TestSyslogUDP(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	evs, data, want := syslogEvents(t)
	s := &SyslogSink{Network: "udp", Address: ln.LocalAddr().String(), Facility: FacilityAuthpriv, Timeout: 5 * time.Second}
	defer s.Close()
	for i := range evs { // one Send per event, as the dispatcher may do
		if n, err := s.Send(context.Background(), evs[i:i+1], data[i:i+1]); n != 1 || err != nil {
			t.Fatalf("Send(event %d) to %s = %d, %v; want 1 accepted", i, ln.LocalAddr(), n, err)
		}
	}
	if diff := cmp.Diff(want, readDatagrams(t, ln, 2)); diff != "" {
		t.Errorf("datagrams on %s (-want +got):\n%s", ln.LocalAddr(), diff)
	}
}

// TestFormatSyslogSecurity: the structured data carries a change's tags and
// sub-techniques, for filters that do not parse the JSON.
func TestFormatSyslogSecurity(t *testing.T) {
	e := &merkle.Entry{Path: "/etc/cron.d/x", Type: merkle.TypeFile, Perm: 0o755}
	ev := FromChange(merkle.Change{Action: merkle.Created, Path: e.Path, New: e}, "web-1", time.Unix(0, 0))
	got := string(FormatSyslog(&ev, []byte(`{}`), FacilityAuthpriv, 42))
	if !strings.Contains(got, ` path="/etc/cron.d/x" security="new_executable,persistence" technique="T1053.003"]`) {
		t.Errorf("FormatSyslog = %q, want the tags and T1053.003 in the structured data", got)
	}
}
