package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// htmxSHA256 pins the vendored htmx (npm htmx.org 2.0.11, dist/htmx.min.js).
const htmxSHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

var t0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// fixture is a Source of fixed hosts: what the daemon or the fleet would
// hand the console, as plain values.
type fixture struct {
	phase *Phase
	hosts []Host
}

func (f *fixture) Phase(context.Context) (*Phase, error) { return f.phase, nil }

func (f *fixture) Hosts(context.Context) ([]HostSummary, error) {
	var out []HostSummary
	for _, h := range f.hosts {
		out = append(out, h.HostSummary)
	}
	return out, nil
}

func (f *fixture) Host(_ context.Context, name string) (*Host, error) {
	for i := range f.hosts {
		if f.hosts[i].Name == name {
			return &f.hosts[i], nil
		}
	}
	return nil, ErrNoHost
}

// Diff compares hv2 with its golden baseline; nothing else.
func (f *fixture) Diff(_ context.Context, host, other string, golden bool) (*DiffView, error) {
	if host != "hv2" || !golden {
		return nil, ErrNoHost
	}
	return &DiffView{From: "golden hypervisor", To: "hv2", Fetched: 8, Bytes: 2048, Entries: []DiffEntry{
		{Action: "updated", Path: "/etc/ssh/sshd_config", Details: []string{"content  ab12 -> cd34"}},
		{Action: "created", Path: "/etc/cron.d/<b>x</b>"},
	}}, nil
}

func newFixture() *fixture {
	ph := &Phase{Host: "hv1", Phase: "setup", Since: t0.Add(-time.Hour), Allowed: []string{"check", "update", "seal"}}
	hv1 := Host{HostSummary: HostSummary{Name: "hv1", Profile: "hypervisor", Phase: "setup", Root: strings.Repeat("ab", 32),
		Heartbeat: t0.Add(-30 * time.Second), State: "ok", Drift: 0, Alerts: 1,
		Days: []Day{{Date: t0.Add(-24 * time.Hour), Alerts: 2, Changes: 5}, {Date: t0, Alerts: 1, Changes: 1}}},
		Phase: ph,
		Alerts: []Alert{{Time: t0, Path: "/etc/<script>alert(1)</script>", Action: "modified", Severity: 7,
			Security: []string{"persistence"}, Process: "by 4242 (/usr/bin/vi) uid 0"}},
		Baselines: []Baseline{{ID: 2, Created: t0, Command: "update", Entries: 100, Root: strings.Repeat("cd", 32), Current: true},
			{ID: 1, Created: t0.Add(-time.Hour), Command: "init", Entries: 99, Root: strings.Repeat("ef", 32)}},
		Audit:        []AuditRecord{{Index: 0, Time: t0.Add(-time.Hour), Type: "init", Baseline: 1}},
		PhaseHistory: []PhaseChange{{Time: t0.Add(-time.Hour), From: "hardened", To: "setup", User: "ops", Reason: "upgrade", Signed: true}},
	}
	hv2 := Host{HostSummary: HostSummary{Name: "hv2", Profile: "hypervisor", Phase: "hardened", Sealed: true,
		State: "drifted", Drift: 3, Heartbeat: t0.Add(-2 * time.Minute)}}
	web := Host{HostSummary: HostSummary{Name: "web1", Profile: "web", Phase: "hardened", Sealed: true, State: "ok", Drift: -1}}
	return &fixture{phase: ph, hosts: []Host{hv1, hv2, web}}
}

func newServer(t *testing.T, src Source, opts Options) *httptest.Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	c, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPinnedHTMX(t *testing.T) {
	b, err := staticFS.ReadFile("static/" + HTMX)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != htmxSHA256 {
		t.Errorf("vendored %s has SHA-256 %s, pinned %s: a changed file must be a deliberate, reviewed update", HTMX, got, htmxSHA256)
	}
}

// TestPages: each page is served with the strict policy and headers, shows
// what the source says, and escapes what a host reports.
func TestPages(t *testing.T) {
	srv := newServer(t, newFixture(), Options{})
	for _, tc := range []struct {
		path   string
		status int
		want   []string
		absent []string
	}{
		{"/", 200, []string{`data-host="hv1"`, `data-host="hv2"`, `data-host="web1"`, "SETUP PHASE", "drifted", "<svg", "30s ago"}, nil},
		{"/?state=drifted", 200, []string{`data-host="hv2"`}, []string{`data-host="hv1"`, `data-host="web1"`}},
		{"/?profile=web", 200, []string{`data-host="web1"`}, []string{`data-host="hv2"`}},
		{"/host/hv1", 200, []string{"SETUP PHASE", "/etc/&lt;script&gt;alert(1)&lt;/script&gt;", "by 4242 (/usr/bin/vi) uid 0",
			"persistence", "upgrade", `hx-get="/host/hv1/alerts"`}, []string{"<script>alert(1)"}},
		{"/host/hv1/alerts", 200, []string{`id="alerts"`, "/etc/&lt;script&gt;"}, []string{"<html"}},
		{"/host/nope", 404, nil, nil},
		{"/diff?host=hv2&golden=1", 200, []string{"/etc/ssh/sshd_config", "content  ab12 -&gt; cd34", "/etc/cron.d/&lt;b&gt;x&lt;/b&gt;", "8 nodes read"}, []string{"<b>x"}},
		{"/diff?host=hv2", 400, nil, nil},
		{"/", 200, []string{`href="/diff?host=hv2&amp;golden=1"`}, nil},
		{"/static/console.css", 200, []string{"--bad"}, nil},
		{"/static/" + HTMX, 200, []string{"htmx"}, nil},
	} {
		resp, body := get(t, srv.URL+tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d (%s)", tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body lacks %q", tc.path, w)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(body, a) {
				t.Errorf("GET %s: body has %q", tc.path, a)
			}
		}
		if strings.HasPrefix(body, "<!doctype") && (strings.Contains(body, "<script>") || strings.Contains(body, "style=")) {
			t.Errorf("GET %s: an inline script or style", tc.path)
		}
	}
}

func TestPhaseAPI(t *testing.T) {
	f := newFixture()
	srv := newServer(t, f, Options{})
	resp, body := get(t, srv.URL+"/api/v1/phase")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/phase: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got["phase"] != "setup" || got["host"] != "hv1" || got["since"] != "2026-12-06T08:00:00Z" {
		t.Errorf("phase = %s", body)
	}
	if ops, _ := got["allowed_operations"].([]any); len(ops) != 3 || ops[0] != "check" {
		t.Errorf("allowed_operations = %v", got["allowed_operations"])
	}
	f.phase = nil // a fleet console: no host of its own
	if resp, _ := get(t, srv.URL+"/api/v1/phase"); resp.StatusCode != 404 {
		t.Errorf("fleet console: /api/v1/phase status %d, want 404", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	srv := newServer(t, newFixture(), Options{Token: "s3cret"})
	if resp, _ := get(t, srv.URL+"/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/", "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/", "Authorization", "Bearer s3cret"); resp.StatusCode != 200 {
		t.Errorf("bearer token: status %d", resp.StatusCode)
	}
	resp, _ := get(t, srv.URL+"/?token=s3cret")
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if resp.StatusCode != 200 || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("?token=: status %d, cookie %+v", resp.StatusCode, ck)
	}
	if resp, _ := get(t, srv.URL+"/host/hv1", "Cookie", cookieName+"=s3cret"); resp.StatusCode != 200 {
		t.Errorf("cookie: status %d", resp.StatusCode)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	if _, err := Listen(t.Context(), "0.0.0.0:0", Options{}); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Listen(0.0.0.0, no token) = %v, want a refusal", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		ln, err := Listen(t.Context(), addr, Options{})
		if err != nil {
			if strings.Contains(err.Error(), "not loopback") {
				t.Errorf("Listen(%s) = %v", addr, err)
			}
			continue // no IPv6 here
		}
		ln.Close()
	}
	ln, err := Listen(t.Context(), "127.0.0.2:0", Options{Token: "x"})
	if err != nil {
		t.Errorf("Listen(127.0.0.2 with a token) = %v", err)
	} else {
		ln.Close()
	}
}

func TestTimeline(t *testing.T) {
	if timeline(nil) != nil {
		t.Error("timeline of no days is not nil")
	}
	f := newFixture()
	c := timeline([]HostSummary{f.hosts[0].HostSummary, f.hosts[0].HostSummary})
	if c == nil || len(c.Bars) != 4 || c.Max != 10 {
		t.Fatalf("timeline = %+v, want 2 days of 2 bars, max 10", c)
	}
	// The tallest bar (10 changes on the first day) fills the chart less
	// its margin; 2 alerts are a fifth of it.
	if b := c.Bars[1]; b.Kind != "changes" || b.H != chartHeight-10 || b.Y != 10 {
		t.Errorf("first day's changes bar = %+v", b)
	}
	if b := c.Bars[0]; b.Kind != "alerts" || b.H != (chartHeight-10)*4/10 {
		t.Errorf("first day's alerts bar = %+v", b)
	}
}
