package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestLargeApart: a large file is verified by its own worker. While the
// worker is held at the start of its read (a read that takes as long as
// the test wants), the large file is said to be hash_pending and a small
// file's change is alerted; the systemd watchdog stops being fed once the
// held worker has not moved for three intervals, and is fed again when
// it moves; then the large file's own alert follows.
func TestLargeApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"srv/big": fimtest.Sparse(4 << 20), "etc/motd": fimtest.File("hi")}, "")
		h.cfg.Watch.LargeFile = 1 << 20
		started, release := make(chan string, 4), make(chan struct{})
		h.startIdle(t, Options{Watchdog: time.Second, largeStarted: func(p string) {
			started <- p
			<-release
		}})
		big, motd := h.path("srv/big"), h.path("etc/motd")
		f, err := os.OpenFile(big, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("a trojan in the middle"), 2<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		h.hint("srv/big")
		h.settle(time.Second)
		if got := <-started; got != big {
			t.Fatalf("the large-file worker began %s, want %s", got, big)
		}
		h.write(t, "etc/motd", "changed")
		// Siblings enough for their directory to be checked whole, but
		// for the large file in it.
		for i := range 20 {
			h.write(t, fmt.Sprintf("srv/s%02d", i), "new")
		}
		h.hint("srv/big")
		before := watchdogs(h)
		h.settle(10 * time.Second)
		evs := h.sink.events()
		if len(find(evs, "hash_pending", big)) != 1 || len(find(evs, "updated", motd)) != 1 || len(find(evs, "created", h.path("srv/s19"))) != 1 {
			t.Fatalf("while the large file is read: want hash_pending %s, updated %s, created siblings, got:\n%s", big, motd, describe(evs))
		}
		if len(find(evs, "updated", big)) != 0 {
			t.Fatalf("the large file's verdict came before its read:\n%s", describe(evs))
		}
		// Pinged for the first intervals, then no more: at most 3 of the 10.
		if n := watchdogs(h) - before; n < 1 || n > 3 {
			t.Errorf("WATCHDOG=1 sent %d times in 10 s of a stalled worker, want 1 to 3", n)
		}
		if st := h.lastStatus(); !strings.Contains(st, "1 large files to verify (reading "+big) {
			t.Errorf("STATUS=%q, want the large file's progress", st)
		}
		close(release)
		h.settle(time.Second)
		evs = h.sink.events()
		if len(find(evs, "updated", big)) != 1 {
			t.Fatalf("after the read: want updated %s, got:\n%s", big, describe(evs))
		}
		before = watchdogs(h)
		h.settle(5 * time.Second)
		if n := watchdogs(h) - before; n < 4 {
			t.Errorf("WATCHDOG=1 sent %d times in 5 s once idle again, want 4 or more", n)
		}
		h.stop(t)
		for _, ev := range find(evs, "hash_pending", big) {
			if ev.File.Size == nil || *ev.File.Size != 4<<20 || ev.Event.Severity != alerts.SeverityInfo {
				t.Errorf("hash_pending: size %v severity %d, want %d and info", ev.File.Size, ev.Event.Severity, 4<<20)
			}
		}
	})
}

// watchdogs counts the WATCHDOG=1 notifications so far.
func watchdogs(h *host) int {
	n := 0
	for _, s := range h.notifications() {
		if s == "WATCHDOG=1" {
			n++
		}
	}
	return n
}

// lastStatus is the last STATUS= notification.
func (h *host) lastStatus() string {
	ns := h.notifications()
	for i := len(ns) - 1; i >= 0; i-- {
		if s, ok := strings.CutPrefix(ns[i], "STATUS="); ok {
			return s
		}
	}
	return ""
}

// TestLargeStatus: /status carries the large-file worker's progress
// record while it reads (real inotify, a real listener).
func TestLargeStatus(t *testing.T) {
	h := newHost(t, fimtest.Tree{"srv/big": fimtest.Sparse(4 << 20)}, "").inotify()
	h.cfg.Watch.LargeFile = 1 << 20
	h.cfg.Watch.Listen = "127.0.0.1:0"
	addr, started, release := make(chan string, 1), make(chan string, 4), make(chan struct{})
	defer close(release)
	h.start(t, Options{onListen: func(a string) { addr <- a }, largeStarted: func(p string) {
		started <- p
		<-release
	}})
	base := "http://" + <-addr
	big := h.path("srv/big")
	if err := os.Truncate(big, 8<<20); err != nil {
		t.Fatal(err)
	}
	if got := <-started; got != big {
		t.Fatalf("the large-file worker began %s, want %s", got, big)
	}
	code, body := get(t, base+"/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status = %d %v:\n%s", code, err, body)
	}
	if st.Large == nil || st.Large.Path != big || st.Large.Size != 8<<20 || st.Large.Pending != 1 || st.Large.Began.IsZero() {
		t.Errorf("/status large = %+v, want %s, 8 MiB, 1 pending, begun", st.Large, big)
	}
}
