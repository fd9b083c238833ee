package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/fimtest"
	"vigil/store"
)

// twenty is a tree of 20 files in etc, and the relative names of them.
func twenty() (fimtest.Tree, []string) {
	tree := fimtest.Tree{}
	var rels []string
	for i := range 20 {
		rel := fmt.Sprintf("etc/f%02d", i)
		tree[rel] = fimtest.File("x")
		rels = append(rels, rel)
	}
	return tree, rels
}

// TestSinkOutageLosesNothing: while a sink refuses, its events stay in the
// outbox and are retried (backing off); once it takes them again every one
// arrives, once, in the order published.
func TestSinkOutageLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		h.startIdle(t, Options{})
		h.sink.setDown(true)
		for _, rel := range rels {
			h.write(t, rel, "changed")
		}
		h.settle(time.Minute)
		// 500 ms doubling to the minute: the first tries, and a few more.
		if r := h.sink.refusals(); r < 5 {
			t.Errorf("the sink refused %d times in a minute, want the retries of a backoff from 500 ms", r)
		}
		if f := h.stats.failures.Load(); f != int64(h.sink.refusals()) {
			t.Errorf("delivery failures counted %d, want %d (one per refused try)", f, h.sink.refusals())
		}
		before := len(h.sink.events())
		h.sink.setDown(false)
		h.settle(2 * time.Minute) // at most the longest backoff
		evs := h.sink.events()[before:]
		var got []string
		for _, ev := range evs {
			p := "-"
			if ev.File != nil {
				p = ev.File.Path
			}
			got = append(got, ev.Event.Action+" "+p)
		}
		var want []string
		for _, rel := range rels {
			want = append(want, "updated "+h.path(rel))
		}
		if !slices.Equal(got, want) {
			t.Errorf("after the outage the sink got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		ids := map[string]bool{}
		for _, ev := range h.sink.events() {
			if ids[ev.Event.ID] {
				t.Errorf("event.id %s delivered twice", ev.Event.ID)
			}
			ids[ev.Event.ID] = true
		}
	})
}

// collector is a webhook endpoint on loopback that refuses while down.
type collector struct {
	down    atomic.Bool
	mu      sync.Mutex
	refused int
	got     []alerts.Event
	badSig  int
	secret  []byte
	changed chan struct{} // a value after each request
}

func newCollector(secret string) *collector {
	return &collector{secret: []byte(secret), changed: make(chan struct{}, 1)}
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.down.Load() {
		c.mu.Lock()
		c.refused++
		c.mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var ev alerts.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m := hmac.New(sha256.New, c.secret)
	m.Write(body)
	c.mu.Lock()
	if r.Header.Get(alerts.SignatureHeader) != "sha256="+hex.EncodeToString(m.Sum(nil)) {
		c.badSig++
	}
	c.got = append(c.got, ev)
	c.mu.Unlock()
}

// await waits until ok holds of the collector's events and refusals.
func (c *collector) await(t *testing.T, what string, ok func(evs []alerts.Event, refused int) bool) []alerts.Event {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		evs, refused := slices.Clone(c.got), c.refused
		c.mu.Unlock()
		if ok(evs, refused) {
			return evs
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("webhook: no %s within %v; %d refused, got:\n%s", what, wait, refused, describe(evs))
		}
	}
}

// TestWebhookOutageLosesNothing is the webhook sink for real (HTTP on
// loopback, HMAC-signed bodies): refused requests are retried, and after
// the outage every event arrives, signed, with distinct ids.
func TestWebhookOutageLosesNothing(t *testing.T) {
	c := newCollector("s3cret")
	c.down.Store(true)
	srv := httptest.NewServer(c)
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := fmt.Sprintf("[[sink]]\ntype = \"webhook\"\nurl = %q\nretries = 1\nbackoff = \"10ms\"\ntimeout = \"2s\"\nsecret_file = %q\nmin_severity = \"learning\"\n", srv.URL, secret)
	tree, rels := twenty()
	h := newHost(t, tree, sink)
	h.start(t, Options{})
	for _, rel := range rels {
		h.write(t, rel, "changed")
	}
	// The test sink has them all while the webhook refuses.
	h.sink.await(t, "20 updated", func(evs []alerts.Event) bool { return count(evs, "updated") == 20 })
	c.await(t, "retries", func(_ []alerts.Event, refused int) bool { return refused >= 2 })
	c.down.Store(false)
	got := c.await(t, "20 updated after the outage", func(evs []alerts.Event, _ int) bool { return count(evs, "updated") == 20 })
	ids := map[string]bool{}
	for _, ev := range got {
		ids[ev.Event.ID] = true
		if ev.Event.Severity < alerts.SeverityLearning {
			t.Errorf("webhook got %s (severity %d) through min_severity learning", ev.Event.Action, ev.Event.Severity)
		}
	}
	if len(ids) != len(got) {
		t.Errorf("webhook got %d events with %d distinct ids", len(got), len(ids))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.badSig != 0 {
		t.Errorf("%d events with a wrong %s", c.badSig, alerts.SignatureHeader)
	}
}

// TestStopFlushesPendingToOutbox: a write still settling (a window of an
// hour) when the stop comes is verified then, and its event is in the
// outbox or delivered, not lost.
func TestStopFlushesPendingToOutbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"etc/shadow": fimtest.File("root:*:\n")}, "")
		h.cfg.Watch.Settle, h.cfg.Watch.MaxSettle = time.Hour, time.Hour
		h.startIdle(t, Options{})
		h.write(t, "etc/shadow", "root:$6$evil:\n")
		h.settle(time.Minute)
		shadow := h.path("etc/shadow")
		if n := len(find(h.sink.events(), "updated", shadow)); n != 0 {
			t.Fatalf("%d updated events within the settle window", n)
		}
		h.stop(t)
		delivered := len(find(h.sink.events(), "updated", shadow))
		ob, err := store.OpenOutbox(h.cfg.OutboxPath(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		_, queued, err := ob.Pending("0-stdout", 10)
		if err != nil {
			t.Fatal(err)
		}
		inOutbox := 0
		for _, q := range queued {
			var ev alerts.Event
			if err := json.Unmarshal(q, &ev); err != nil {
				t.Fatalf("outbox entry %q: %v", q, err)
			}
			if ev.Event.Action == "updated" && ev.File != nil && ev.File.Path == shadow {
				inOutbox++
			}
		}
		if delivered+inOutbox != 1 {
			t.Errorf("after SIGTERM: %d delivered, %d in the outbox; want the one update in either", delivered, inOutbox)
		}
	})
}

// TestReloadRefusesBadConfig: SIGHUP with a configuration that does not
// parse keeps the running one; with a good one, the pipeline starts again
// with it (new exclusions, new sinks).
func TestReloadRefusesBadConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHost(t, fimtest.Tree{"etc/a": fimtest.File("a"), "etc/b": fimtest.File("b")}, "")
		cfgFile := filepath.Join(h.dir, "vigil.toml")
		text := "roots = [\"/\"\n" // broken
		reloads := 0
		h.startIdle(t, Options{Reload: func() (*config.Config, error) {
			reloads++
			c, err := config.Parse(cfgFile, []byte(text))
			if err != nil {
				return nil, err
			}
			c.Database = h.db
			return c, nil
		}})
		h.hup <- syscall.SIGHUP
		h.settle(time.Second)
		if reloads != 1 || slices.Contains(h.notifications(), "RELOADING=1") || len(h.src.opts) != 1 {
			t.Fatalf("after SIGHUP with a broken configuration: %d reloads, notified %q, %d sources made; want 1, no RELOADING=1, 1",
				reloads, h.notifications(), len(h.src.opts))
		}
		a, b := h.path("etc/a"), h.path("etc/b")
		h.write(t, "etc/a", "changed")
		h.settle(time.Second)
		if !has("updated", a)(h.sink.events()) {
			t.Fatalf("no updated %s with the old configuration:\n%s", a, describe(h.sink.events()))
		}

		// A good one: etc/b is excluded from now on, and events go to a
		// file.
		second := filepath.Join(h.dir, "second.json")
		text = fmt.Sprintf("roots = [%q]\nexclude = [%q]\n[[sink]]\ntype = \"file\"\npath = %q\n", h.root, b, second)
		h.hup <- syscall.SIGHUP
		h.settle(time.Second)
		if !slices.Contains(h.notifications(), "RELOADING=1") || len(h.src.opts) != 2 || !h.src.opts[1].Excluded(b) {
			t.Fatalf("after SIGHUP with a good configuration: notified %q, %d sources made; want RELOADING=1, a second source excluding %s",
				h.notifications(), len(h.src.opts), b)
		}
		if evs := readEvents(t, second); count(evs, "start") != 1 {
			t.Fatalf("the new sink got %s want the catch-up notice", describe(evs))
		}
		h.write(t, "etc/b", "changed")
		h.write(t, "etc/a", "changed again")
		h.settle(time.Second)
		evs := readEvents(t, second)
		if !has("updated", a)(evs) || has("updated", b)(evs) {
			t.Errorf("the new sink got\n%s want updated %s and nothing on the excluded %s", describe(evs), a, b)
		}
	})
}

// TestSIGHUPReloads: the real signal reaches the daemon (the others send
// it through a channel of their own).
func TestSIGHUPReloads(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/a": fimtest.File("a")}, "")
	h.signals = true
	reloaded := make(chan struct{})
	var once sync.Once
	h.start(t, Options{Reload: func() (*config.Config, error) {
		once.Do(func() { close(reloaded) })
		return h.cfg, nil
	}})
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(wait):
		t.Fatalf("SIGHUP did not reach the daemon within %v", wait)
	}
}

// TestFullOutboxCoalescesIntoCountedSummary: each sink's queue holds 5;
// what did not fit is counted, and the count arrives as one summary once
// the sink takes events again.
func TestFullOutboxCoalescesIntoCountedSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		events := filepath.Join(t.TempDir(), "events.json")
		h := newHost(t, tree, fmt.Sprintf("[[sink]]\ntype = \"file\"\npath = %q\n", events))
		h.cfg.Watch.OutboxMax = 5
		h.startIdle(t, Options{})
		h.sink.setDown(true)
		for _, rel := range rels {
			h.write(t, rel, "changed")
		}
		h.settle(time.Second)
		// One batch of 20, published at once: 5 queued, 15 counted, for
		// the file sink too, though it is up.
		accounted := func(evs []alerts.Event) (updated int, dropped int64) {
			for _, ev := range evs {
				switch {
				case ev.Event.Action == "updated":
					updated++
				case ev.Event.Action == "events_dropped" && ev.Vigil != nil && ev.Vigil.Dropped != nil:
					dropped += ev.Vigil.Dropped.Count
				}
			}
			return updated, dropped
		}
		if u, d := accounted(readEvents(t, events)); u != 5 || d != 15 {
			t.Errorf("file sink: %d updated and %d counted as dropped, want 5 and 15", u, d)
		}
		if u, d := accounted(h.sink.events()); u != 0 || d != 0 {
			t.Errorf("the sink that is down got %d updated and %d counted", u, d)
		}
		h.sink.setDown(false)
		h.settle(2 * time.Minute)
		if u, d := accounted(h.sink.events()); u != 5 || d != 15 {
			t.Errorf("after the outage: %d updated and %d counted as dropped, want 5 and 15", u, d)
		}
	})
}

// TestSyslogSinkOverUnixSocket: a [[sink]] of type syslog with its address
// a unix datagram socket (a real one at a temporary path, as /dev/log):
// the daemon's alert arrives as one RFC 5424 datagram whose structured
// data carries the same event.id as the test sink's copy.
func TestSyslogSinkOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root:x:0:0\n")},
		fmt.Sprintf("[[sink]]\ntype = \"syslog\"\naddress = %q\nfacility = \"local0\"\nmin_severity = \"learning\"\n", sock))
	h.start(t, Options{})
	passwd := h.path("etc/passwd")
	h.write(t, "etc/passwd", "evil\n")
	id := find(h.sink.await(t, "updated "+passwd, has("updated", passwd)), "updated", passwd)[0].Event.ID
	buf := make([]byte, 64<<10)
	if err := ln.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("no syslog datagram for updated %s on %s: %v", passwd, sock, err)
		}
		msg := string(buf[:n])
		if !strings.Contains(msg, " updated [") {
			continue // the start notice (learning passes min_severity)
		}
		// local0 (16) * 8 + informational (6: a learning change of the
		// setup phase)
		wantHead := "<134>1 "
		// and the classification table's tag of /etc/passwd.
		wantSD := fmt.Sprintf(`[vigil@32473 id=%q action="updated" severity="2" path=%q security="credentials"] `+"\ufeff{", id, passwd)
		if !strings.HasPrefix(msg, wantHead) || !strings.Contains(msg, " vigil "+strconv.Itoa(os.Getpid())+" updated "+wantSD) {
			t.Errorf("syslog datagram = %q, want %q... and %q", msg, wantHead, wantSD)
		}
		return
	}
}
