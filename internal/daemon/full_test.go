package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// fillFS writes zeros to a new file in dir until its filesystem is full
// and returns the file, to remove to free the space again.
func fillFS(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 64<<10); len(buf) > 0; buf = buf[:len(buf)/2] {
		for err == nil {
			_, err = f.Write(buf)
		}
		if !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
		}
		err = nil
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil && !errors.Is(err, unix.ENOSPC) {
		t.Fatal(err)
	}
	return p
}

// TestOutboxENOSPC: the database and outbox on a small ext4 that fills
// up while the webhook sink is down (its queue must grow). The daemon
// does not exit; the stdout and file sinks get every alert; /healthz says
// 503 with the reason; once space is freed the daemon recovers by itself
// and the webhook gets every alert too, none lost.
func TestOutboxENOSPC(t *testing.T) {
	mnt := fimtest.LoopFS(t, "ext4", 32<<20, "")
	c := newCollector("s3cret")
	c.down.Store(true)
	srv := httptest.NewServer(c)
	defer srv.Close()
	other := t.TempDir()
	secret, events := filepath.Join(other, "hmac"), filepath.Join(other, "events.json")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := fimtest.Tree{}
	const files = 600
	for i := range files {
		tree[fmt.Sprintf("etc/f%03d", i)] = fimtest.File("x")
	}
	h := &host{root: t.TempDir(), dir: mnt, src: newScripted(), sink: newTestSink(), hup: make(chan os.Signal, 1)}
	tree.Make(t, h.root)
	fimtest.Age(t, h.root, fimtest.Past)
	h.db = filepath.Join(mnt, "vigil.db")
	h.cfg = h.config(t, fmt.Sprintf("[[sink]]\ntype = \"file\"\npath = %q\n[[sink]]\ntype = \"webhook\"\nurl = %q\nretries = 1\nbackoff = \"10ms\"\ntimeout = \"2s\"\nsecret_file = %q\n",
		events, srv.URL, secret))
	h.init(t)
	h.cfg.RereadWithin = 0
	h.cfg.Watch.FloodDirLimit = files // every alert one by one
	h.cfg.Watch.Listen = "127.0.0.1:0"
	addr := make(chan string, 1)
	h.start(t, Options{outboxReserve: 256 << 10, retryFull: 50 * time.Millisecond, onListen: func(a string) { addr <- a }})
	base := "http://" + <-addr
	// The dispatcher makes the reserve as it starts, which the listener
	// does not wait for.
	reserve := filepath.Join(mnt, "vigil.db.outbox.reserve")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := os.Stat(reserve)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox's reserve, 10 s after the start: %v", err)
		}
	}
	filler := fillFS(t, mnt)

	// Change files, 20 at a time, until the outbox cannot be written, and
	// 60 more then.
	written, after := 0, -1
	for ; written < files && (after < 0 || written < after+60); written += 20 {
		for i := written; i < written+20; i++ {
			h.write(t, fmt.Sprintf("etc/f%03d", i), "changed")
		}
		last := h.path(fmt.Sprintf("etc/f%03d", written+19))
		h.sink.await(t, "updated "+last, has("updated", last))
		if after < 0 && h.stats.outboxFull.Load() > 0 {
			after = written + 20
		}
	}
	if after < 0 {
		t.Fatalf("%d changes with the filesystem full and the webhook down, and the outbox never failed", written)
	}
	select {
	case err := <-h.done:
		h.done <- err
		t.Fatalf("the daemon ended on a full disk: %v", err)
	default:
	}
	want := map[string]bool{}
	for i := range written {
		want[h.path(fmt.Sprintf("etc/f%03d", i))] = true
	}
	missing := func(evs []alerts.Event) []string {
		got := map[string]bool{}
		for _, ev := range evs {
			if ev.Event.Action == "updated" && ev.File != nil {
				got[ev.File.Path] = true
			}
		}
		var out []string
		for p := range want {
			if !got[p] {
				out = append(out, p)
			}
		}
		return out
	}
	if m := missing(h.sink.events()); len(m) > 0 {
		t.Errorf("stdout misses %d of %d alerts: %v", len(m), written, m)
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		m := missing(readEvents(t, events))
		if len(m) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file sink misses %d of %d alerts after %v: %v", len(m), written, wait, m)
		}
	}
	if n := count(h.sink.events(), "outbox_full"); n != 1 {
		t.Errorf("stdout got %d outbox_full notices, want 1", n)
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "degraded: outbox") {
		t.Errorf("/healthz on a full disk = %d %q, want 503 naming the outbox", code, body)
	}

	// Space again, the webhook up: it gets every alert, and the daemon
	// is healthy again by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.down.Store(false)
	c.await(t, "every alert", func(evs []alerts.Event, _ int) bool { return len(missing(evs)) == 0 })
	h.sink.await(t, "outbox_recovered", func(evs []alerts.Event) bool { return count(evs, "outbox_recovered") == 1 })
	deadline := time.Now().Add(wait)
	for {
		code, body := get(t, base+"/healthz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz after space returned = %d %q, want 200 within %v", code, body, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(mnt, "vigil.db.outbox.reserve")); err != nil {
		t.Errorf("the reserve after recovery: %v, want it made again", err)
	}
}
