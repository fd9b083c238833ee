package alerts

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
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
