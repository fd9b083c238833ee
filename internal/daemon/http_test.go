package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/internal/fimtest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHTTPEndpoints(t *testing.T) {
	// Real inotify: its coverage is what /metrics and /status say.
	h := newHost(t, fimtest.Tree{"etc/x": fimtest.File("x")}, "").inotify()
	h.cfg.Watch.Listen = "127.0.0.1:0"
	addr := make(chan string, 1)
	h.start(t, Options{onListen: func(a string) { addr <- a }})
	base := "http://" + <-addr
	x := h.path("etc/x")
	if err := os.WriteFile(x, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "updated "+x, has("updated", x))

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		"# TYPE vigil_watch_hints_total counter", "# TYPE vigil_watch_verdict_latency_seconds histogram",
		"vigil_watch_verdict_latency_seconds_count ", "vigil_watch_watched_directories 2", "vigil_watch_alerted_paths 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q:\n%s", want, body)
		}
	}
	code, body = get(t, base+"/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status = %d %v:\n%s", code, err, body)
	}
	if !st.Ready || st.BaselineID != 1 || st.Alerted != 1 || st.Coverage.Watched != 2 || st.LastScanWhy != "start" {
		t.Errorf("/status = %+v, want ready, baseline 1, 1 alerted, 2 watched, last scan at the start", st)
	}

	// The web console on the same loopback listener: this host's phase (a
	// baseline never sealed is the setup phase) and its standing alert.
	code, body = get(t, base+"/api/v1/phase")
	var ph struct {
		Host    string   `json:"host"`
		Phase   string   `json:"phase"`
		Allowed []string `json:"allowed_operations"`
	}
	if err := json.Unmarshal([]byte(body), &ph); code != http.StatusOK || err != nil {
		t.Fatalf("/api/v1/phase = %d %v:\n%s", code, err, body)
	}
	if ph.Phase != "setup" || !slices.Contains(ph.Allowed, "update") {
		t.Errorf("/api/v1/phase = %+v, want setup allowing update", ph)
	}
	code, body = get(t, base+"/host/"+ph.Host)
	if code != http.StatusOK || !strings.Contains(body, "SETUP PHASE") || !strings.Contains(body, x) {
		t.Errorf("/host/%s = %d, want the setup banner and the alert on %s:\n%s", ph.Host, code, x, body)
	}
	if code, _ := get(t, base+"/host/another"); code != http.StatusNotFound {
		t.Errorf("/host/another = %d, want 404", code)
	}
}
