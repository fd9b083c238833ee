package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/htmx-2.0.11.min.js static/console.css static/favicon.svg
var staticFS embed.FS

// HTMX is the vendored htmx file: the version is in its name, and its
// SHA-256 is pinned by the package's tests.
const HTMX = "htmx-2.0.11.min.js"

// csp allows the console's own script and stylesheet and nothing else: no
// inline script or style, no eval, no frames, no other origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// cookieName carries the token after a ?token= login.
const cookieName = "vigil_console"

// Options configure a console.
type Options struct {
	// Token, when set, is required of every request (see the package doc).
	Token string
	// Now is the clock of the ages shown; nil means time.Now.
	Now func() time.Time
}

// Console is the console's http.Handler.
type Console struct {
	src  Source
	opts Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New returns the console of src.
func New(src Source, opts Options) (*Console, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Console{src: src, opts: opts}
	t, err := template.New("").Funcs(template.FuncMap{
		"age":   c.age,
		"short": short,
		"when":  func(t time.Time) string { return when(t) },
		"join":  strings.Join,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	c.tmpl = t
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", c.fleet)
	m.HandleFunc("GET /host/{name}", c.host)
	m.HandleFunc("GET /host/{name}/alerts", c.hostAlerts)
	m.HandleFunc("GET /api/v1/phase", c.phase)
	m.HandleFunc("GET /diff", c.diff)
	m.HandleFunc("GET /golden/{profile}", c.golden)
	c.mux = m
	return c, nil
}

// ServeHTTP sets the security headers, checks the token and serves.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if c.opts.Token != "" && !c.authorized(w, r) {
		http.Error(w, "a token is required", http.StatusUnauthorized)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token, the cookie, or a ?token= that then
// sets the cookie.
func (c *Console) authorized(w http.ResponseWriter, r *http.Request) bool {
	ok := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(c.opts.Token)) == 1 }
	if a, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(a) {
		return true
	}
	if ck, err := r.Cookie(cookieName); err == nil && ok(ck.Value) {
		return true
	}
	if q := r.URL.Query().Get("token"); q != "" && ok(q) {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.opts.Token, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		return true
	}
	return false
}

// page is what every page template gets.
type page struct {
	Title   string
	Phase   *Phase // the serving host's; nil in a fleet console
	HTMX    string
	Hosts   []HostSummary
	Host    *Host
	Filter  filter
	Options filterOptions
	Chart   *chart // the timeline, drawn as SVG by the template
	Diff    *DiffView
	Golden  *GoldenView
	// CanDiff says the source compares hosts (the diff links), HasGolden
	// that it has golden baselines (the profile links).
	CanDiff, HasGolden bool
}

type filter struct{ Profile, State string }

type filterOptions struct{ Profiles, States []string }

func (c *Console) render(w http.ResponseWriter, name string, p page) {
	var buf bytes.Buffer
	p.HTMX = HTMX
	if err := c.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w) // a client gone: nothing to tell it
}

func (c *Console) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNoHost) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusBadGateway)
}

func (c *Console) fleet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ph, err := c.src.Phase(ctx)
	if err != nil {
		c.fail(w, err)
		return
	}
	hosts, err := c.src.Hosts(ctx)
	if err != nil {
		c.fail(w, err)
		return
	}
	f := filter{Profile: r.URL.Query().Get("profile"), State: r.URL.Query().Get("state")}
	var opts filterOptions
	var shown []HostSummary
	for _, h := range hosts {
		if h.Profile != "" && !slices.Contains(opts.Profiles, h.Profile) {
			opts.Profiles = append(opts.Profiles, h.Profile)
		}
		if !slices.Contains(opts.States, h.State) {
			opts.States = append(opts.States, h.State)
		}
		if (f.Profile == "" || h.Profile == f.Profile) && (f.State == "" || h.State == f.State) {
			shown = append(shown, h)
		}
	}
	slices.Sort(opts.Profiles)
	slices.Sort(opts.States)
	_, canDiff := c.src.(Differ)
	_, hasGolden := c.src.(Goldens)
	c.render(w, "fleet.html", page{Title: "Fleet", Phase: ph, Hosts: shown, Filter: f, Options: opts,
		Chart: timeline(shown), CanDiff: canDiff, HasGolden: hasGolden})
}

func (c *Console) hostPage(r *http.Request) (*Phase, *Host, error) {
	ph, err := c.src.Phase(r.Context())
	if err != nil {
		return nil, nil, err
	}
	h, err := c.src.Host(r.Context(), r.PathValue("name"))
	return ph, h, err
}

func (c *Console) host(w http.ResponseWriter, r *http.Request) {
	ph, h, err := c.hostPage(r)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "host.html", page{Title: h.Name, Phase: ph, Host: h})
}

// hostAlerts is the standing-alerts fragment the host page refreshes.
func (c *Console) hostAlerts(w http.ResponseWriter, r *http.Request) {
	ph, h, err := c.hostPage(r)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "alerts", page{Phase: ph, Host: h})
}

// diff is the diff page: /diff?host=H&other=H2, or /diff?host=H&golden=1.
func (c *Console) diff(w http.ResponseWriter, r *http.Request) {
	d, ok := c.src.(Differ)
	if !ok {
		http.Error(w, "this console compares no hosts", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	host, other, golden := q.Get("host"), q.Get("other"), q.Get("golden") == "1"
	if host == "" || (other == "") == !golden {
		http.Error(w, "diff needs host and other, or host and golden=1", http.StatusBadRequest)
		return
	}
	ph, err := c.src.Phase(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	v, err := d.Diff(r.Context(), host, other, golden)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "diff.html", page{Title: "Diff " + v.From + " → " + v.To, Phase: ph, Diff: v})
}

// golden is a profile's golden page: its promotions and its hosts' drift.
func (c *Console) golden(w http.ResponseWriter, r *http.Request) {
	g, ok := c.src.(Goldens)
	if !ok {
		http.Error(w, "this console has no golden baselines", http.StatusNotFound)
		return
	}
	ph, err := c.src.Phase(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	v, err := g.Golden(r.Context(), r.PathValue("profile"))
	if err != nil {
		c.fail(w, err)
		return
	}
	_, canDiff := c.src.(Differ)
	c.render(w, "golden.html", page{Title: "Golden " + v.Profile, Phase: ph, Golden: v, CanDiff: canDiff})
}

func (c *Console) phase(w http.ResponseWriter, r *http.Request) {
	ph, err := c.src.Phase(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	if ph == nil {
		http.Error(w, "this console serves a fleet, not one host", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ph) // a client gone: nothing to tell it
}

func (c *Console) age(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := c.opts.Now().Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// Listen opens the console's listener on addr, refusing an address that is
// not loopback unless a token is set: a console open to the network with
// no credential shows every host's weak spots to anyone.
func Listen(ctx context.Context, addr string, opts Options) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("console address %q: %w", addr, err)
	}
	if !Loopback(host) && opts.Token == "" {
		return nil, fmt.Errorf("console address %q is not loopback: set a token to serve it there", addr)
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

// Loopback reports whether host (an address's host part) is a loopback
// address or localhost: where a console may be served without a token.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
