package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/fimtest"
)

// awaitHealth polls /healthz until it answers code with a body holding
// want, and fails the test after [wait].
func awaitHealth(t *testing.T, base string, code int, want string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		c, body := get(t, base+"/healthz")
		if c == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz = %d %q after %v, want %d with %q", c, body, wait, code, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHealthzDegraded: /healthz is 503 with the reason while a sink fails
// for longer than the threshold and while coverage is partial, 200 once
// neither holds; /metrics has each sink's queue depth, the age of its
// oldest undelivered event and its failing time.
func TestHealthzDegraded(t *testing.T) {
	c := newCollector("s3cret")
	c.down.Store(true)
	srv := httptest.NewServer(c)
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, fimtest.Tree{"etc/x": fimtest.File("x")}, fmt.Sprintf("[[sink]]\ntype = \"webhook\"\nurl = %q\nretries = 1\nbackoff = \"10ms\"\ntimeout = \"2s\"\nsecret_file = %q\n", srv.URL, secret))
	h.cfg.Watch.Listen = "127.0.0.1:0"
	addr := make(chan string, 1)
	h.start(t, Options{healthAfter: 300 * time.Millisecond, onListen: func(a string) { addr <- a }})
	base := "http://" + <-addr
	h.write(t, "etc/x", "changed")
	h.sink.await(t, "updated", has("updated", h.path("etc/x")))
	awaitHealth(t, base, http.StatusServiceUnavailable, "sink 1-webhook failing for")

	_, body := get(t, base+"/metrics")
	for _, re := range []string{
		`vigil_watch_sink_queue_depth\{sink="1-webhook"\} [1-9]`,
		`vigil_watch_sink_queue_depth\{sink="0-stdout"\} 0`,
		`vigil_watch_sink_oldest_undelivered_seconds\{sink="1-webhook"\} ([0-9.e+-]+)`,
		`vigil_watch_sink_failing_seconds\{sink="1-webhook"\} 0\.[3-9]|vigil_watch_sink_failing_seconds\{sink="1-webhook"\} [1-9]`,
		`vigil_watch_sink_dropped_total\{sink="1-webhook"\} 0`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("/metrics has no %s:\n%s", re, body)
			continue
		}
		if len(m) > 1 {
			if age, err := strconv.ParseFloat(m[1], 64); err != nil || age <= 0 {
				t.Errorf("oldest undelivered age = %s, want > 0", m[1])
			}
		}
	}

	c.down.Store(false)
	awaitHealth(t, base, http.StatusOK, "ok")

	h.src.mu.Lock()
	h.src.cov.Fallback = []string{h.path("etc")}
	h.src.mu.Unlock()
	awaitHealth(t, base, http.StatusServiceUnavailable, "coverage partial: 1 subtrees")
}
