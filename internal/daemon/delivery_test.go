package daemon

import (
	"context"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/store"
)

// collector is a webhook endpoint on loopback that refuses while down.
type collector struct {
	down    atomic.Bool
	refused atomic.Int64
	mu      sync.Mutex
	got     []alerts.Event
	badSig  int
	secret  []byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.down.Load() {
		c.refused.Add(1)
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

func (c *collector) events() []alerts.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]alerts.Event(nil), c.got...)
}

func TestWebhookOutageLosesNothing(t *testing.T) {
	c := &collector{secret: []byte("s3cret")}
	c.down.Store(true)
	srv := httptest.NewServer(c)
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := fmt.Sprintf("[[sink]]\ntype = \"webhook\"\nurl = %q\nretries = 1\nbackoff = \"10ms\"\ntimeout = \"2s\"\nsecret_file = %q\nmin_severity = \"learning\"\n", srv.URL, secret)
	tree := fimtest.Tree{}
	for i := range 20 {
		tree[fmt.Sprintf("etc/f%02d", i)] = fimtest.File("x")
	}
	h := newHost(t, tree, sink)
	h.start(t, Options{})
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(h.root, "etc", fmt.Sprintf("f%02d", i)), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The file sink has them all while the webhook refuses.
	await(t, h.events, "20 updated", func(evs []alerts.Event) bool { return count(evs, "updated") == 20 })
	deadline := time.Now().Add(wait)
	for c.refused.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.refused.Load() < 2 {
		t.Fatalf("webhook refused %d requests, want retries", c.refused.Load())
	}
	c.down.Store(false)
	for count(c.events(), "updated") < 20 && time.Now().Before(deadline.Add(wait)) {
		time.Sleep(10 * time.Millisecond)
	}
	got := c.events()
	if n := count(got, "updated"); n != 20 {
		t.Fatalf("webhook got %d updated events after the outage, want 20", n)
	}
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
	if c.badSig != 0 {
		t.Errorf("%d events with a wrong %s", c.badSig, alerts.SignatureHeader)
	}
	c.mu.Unlock()
}

func count(evs []alerts.Event, action string) int {
	n := 0
	for _, ev := range evs {
		if ev.Event.Action == action {
			n++
		}
	}
	return n
}

func TestFollowsNewBaselineWhileCLIWorks(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/app.conf": fimtest.File("a=1\n")}, contentRule)
	h.start(t, Options{})
	conf := filepath.Join(h.root, "etc", "app.conf")
	if err := os.WriteFile(conf, []byte("a=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "updated "+conf, has("updated", conf))
	// vigil update, as the CLI runs it, while the daemon watches: the
	// database is free for a writer, and the daemon follows the new
	// baseline: the alerted path is resolved without a restart.
	db, err := store.Open(h.db, store.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("opening the database for writing while the daemon runs: %v", err)
	}
	res, err := engine.Update(context.Background(), db, engine.Options{Config: h.cfg, Reason: "planned", Host: "test"})
	if err != nil || !res.Written {
		t.Fatalf("engine.Update = %+v, %v; want a new baseline", res, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "resolved "+conf, has("resolved", conf))
	// Against the new baseline, the old content is the change now.
	if err := os.WriteFile(conf, []byte("a=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "second updated "+conf, func(evs []alerts.Event) bool { return len(find(evs, "updated", conf)) == 2 })
}

func TestStopFlushesPendingToOutbox(t *testing.T) {
	// A long settle window: the write is still settling when the stop
	// comes; it is verified then and its event is in the outbox (or
	// delivered), not lost.
	h := newHost(t, fimtest.Tree{"etc/shadow": fimtest.File("root:*:\n")}, "")
	h.cfg.Watch.Settle, h.cfg.Watch.MaxSettle = time.Hour, time.Hour
	h.start(t, Options{})
	shadow := filepath.Join(h.root, "etc", "shadow")
	if err := os.WriteFile(shadow, []byte("root:$6$evil:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for h.hints.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // until the hint reached the settler
	}
	h.stop(t)
	delivered := find(readEvents(t, h.events), "updated", shadow)
	ob, err := store.OpenOutbox(h.cfg.OutboxPath(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	_, queued, err := ob.Pending("0-file", 10)
	if err != nil {
		t.Fatal(err)
	}
	inOutbox := 0
	for _, q := range queued {
		if strings.Contains(string(q), `"action":"updated"`) && strings.Contains(string(q), "shadow") {
			inOutbox++
		}
	}
	if len(delivered)+inOutbox != 1 {
		t.Errorf("after SIGTERM: %d delivered, %d in the outbox; want the one update in either", len(delivered), inOutbox)
	}
}

func TestReloadRefusesBadConfig(t *testing.T) {
	h := newHost(t, fimtest.Tree{"etc/a": fimtest.File("a"), "etc/b": fimtest.File("b")}, "")
	cfgFile := filepath.Join(h.dir, "vigil.toml")
	var text atomic.Value
	text.Store("roots = [\"/\"\n") // broken
	h.start(t, Options{Reload: func() (*config.Config, error) {
		c, err := config.Parse(cfgFile, []byte(text.Load().(string)))
		if err != nil {
			return nil, err
		}
		c.Database = h.db
		return c, nil
	}})
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for !strings.Contains(h.logText(), "configuration refused") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(h.logText(), "configuration refused") {
		t.Fatalf("no refusal logged after SIGHUP with a broken configuration; log:\n%s", h.logText())
	}
	a := filepath.Join(h.root, "etc", "a")
	if err := os.WriteFile(a, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, h.events, "updated "+a+" with the old configuration", has("updated", a))

	// A good one: etc/b is excluded from now on, and events go to a second
	// file.
	second := filepath.Join(h.dir, "second.json")
	text.Store(fmt.Sprintf("roots = [%q]\nexclude = [%q]\n[[sink]]\ntype = \"file\"\npath = %q\n", h.root, filepath.Join(h.root, "etc", "b"), second))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(h.logText(), "configuration reloaded") && time.Now().Before(deadline.Add(wait)) {
		time.Sleep(10 * time.Millisecond)
	}
	await(t, second, "the catch-up notice in the new sink", func(evs []alerts.Event) bool { return count(evs, "start") > 0 })
	b := filepath.Join(h.root, "etc", "b")
	if err := os.WriteFile(b, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, []byte("changed again"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := await(t, second, "updated "+a+" in the new sink", has("updated", a))
	if len(find(evs, "updated", b)) > 0 {
		t.Errorf("updated %s after the reload excluded it", b)
	}
}

func TestFullOutboxCoalescesIntoCountedSummary(t *testing.T) {
	c := &collector{}
	c.down.Store(true)
	srv := httptest.NewServer(c)
	defer srv.Close()
	sink := fmt.Sprintf("[[sink]]\ntype = \"webhook\"\nurl = %q\nbackoff = \"10ms\"\nmin_severity = \"learning\"\n", srv.URL)
	tree := fimtest.Tree{}
	for i := range 20 {
		tree[fmt.Sprintf("etc/f%02d", i)] = fimtest.File("x")
	}
	h := newHost(t, tree, sink)
	h.cfg.Watch.OutboxMax = 5
	h.start(t, Options{})
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(h.root, "etc", fmt.Sprintf("f%02d", i)), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Every sink's queue holds 5: what did not fit is counted, and the
	// count arrives as a summary once the sink takes events again.
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
	// The file sink's queue also counts the start notice: 21 events.
	evs := await(t, h.events, "20 updated in the file sink, delivered or counted", func(evs []alerts.Event) bool {
		u, d := accounted(evs)
		return int64(u)+d >= 20
	})
	if u, d := accounted(evs); u == 20 || u+int(d) > 21 {
		t.Errorf("file sink: %d updated and %d counted as dropped; want some dropped (the queue holds 5), 20 or 21 in all", u, d)
	}
	c.down.Store(false)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if _, d := accounted(c.events()); d > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling, not an assertion
	}
	if u, d := accounted(c.events()); u > 5 || int64(u)+d != 20 {
		t.Errorf("webhook: %d updated and %d counted as dropped; want at most 5 delivered and the rest counted, 20 in all", u, d)
	}
}

// TestSyslogSinkOverUnixSocket: a [[sink]] of type syslog with its address
// a unix datagram socket (a real one at a temporary path, as /dev/log):
// the daemon's alert arrives as one RFC 5424 datagram whose structured
// data carries the same event.id as the file sink's copy.
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
	passwd := filepath.Join(h.root, "etc", "passwd")
	if err := os.WriteFile(passwd, []byte("evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := find(await(t, h.events, "updated "+passwd, has("updated", passwd)), "updated", passwd)[0].Event.ID
	buf := make([]byte, 64<<10)
	for {
		if err := ln.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
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
		wantSD := fmt.Sprintf(`[vigil@32473 id=%q action="updated" severity="2" path=%q] `+"\ufeff{", id, passwd)
		if !strings.HasPrefix(msg, wantHead) || !strings.Contains(msg, " vigil "+strconv.Itoa(os.Getpid())+" updated "+wantSD) {
			t.Errorf("syslog datagram = %q, want %q... and %q", msg, wantHead, wantSD)
		}
		return
	}
}
