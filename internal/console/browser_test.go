package console

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"vigil/internal/fimtest"
)

// ScreenshotEnv names a directory where TestBrowser writes the pages'
// screenshots as console-NAME.png (the README's: make screenshots).
const ScreenshotEnv = "VIGIL_SCREENSHOTS"

// chromium finds a Chromium; without one the test skips, or fails where CI
// installs it (fimtest.RequireRootEnv).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(fimtest.RequireRootEnv) != "" {
		t.Fatalf("no chromium on PATH, and %s is set: .ci/run installs Debian's chromium", fimtest.RequireRootEnv)
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// problems collects what the browser reports that a page must not cause:
// console errors, uncaught exceptions, log entries of level error, and
// Content-Security-Policy violations (seen by a listener injected before
// any page script runs).
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(s string) { p.mu.Lock(); p.list = append(p.list, s); p.mu.Unlock() }

func (p *problems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.list
	p.list = nil
	return l
}

const violationProbe = `window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

// TestBrowser loads every page in headless Chromium: none logs an error or
// violates the policy, htmx runs, the setup banner shows, a drifted host is
// drifted, and the host page lists its alert's path and who made it.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	c, err := New(newFixture(), Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		// Nothing but the console: no proxy lookups, no other host.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var probs problems
	err = chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				probs.add(fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			probs.add(fmt.Sprintf("exception: %s at %s:%d", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				probs.add(fmt.Sprintf("log %s/%s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	_, err = chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, log.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument,
			cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: violationProbe})
		return err
	}))
	if err != nil {
		t.Fatalf("setting chromium up: %v", err)
	}

	shots := os.Getenv(ScreenshotEnv)
	type check func(ctx context.Context) error
	load := func(shot, path string, checks ...check) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Steps(chromedp.Navigate(base+path), chromedp.WaitReady(chromedp.CSS("footer")))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, c := range checks {
			if err := c(ctx); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		version, err := chromedp.Run(ctx, chromedp.Poll[string](`typeof htmx === "object" && htmx.version`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || version != "2.0.11" {
			t.Errorf("%s: htmx.version = %q (%v), want 2.0.11", path, version, err)
		}
		csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
		if err != nil {
			t.Errorf("%s: reading the violations: %v", path, err)
		}
		for _, v := range csp {
			t.Errorf("%s: Content-Security-Policy violation: %s", path, v)
		}
		if shots != "" && shot != "" {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("%s: screenshot: %v", path, err)
			}
			if err := os.WriteFile(filepath.Join(shots, "console-"+shot+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range probs.take() {
			t.Errorf("%s: %s", path, p)
		}
	}
	text := func(sel, want string) check {
		return func(ctx context.Context) error {
			got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				return fmt.Errorf("%s: %w", sel, err)
			}
			if !strings.Contains(got, want) {
				return fmt.Errorf("%s shows %q, want it to contain %q", sel, got, want)
			}
			return nil
		}
	}

	load("fleet", "/", text("#phase-banner", "SETUP PHASE"), text(`tr[data-host="hv2"] td.state`, "drifted"),
		text(`tr[data-host="hv1"] td.state`, "ok"))
	load("", "/?state=drifted", text("#hosts tbody", "hv2"))
	load("diff", "/diff?host=hv2&golden=1", text("#diff", "/etc/ssh/sshd_config"), text("#diff", "/etc/cron.d/<b>x</b>"))
	load("host", "/host/hv1", text("#phase-banner", "SETUP PHASE"), text("#alerts", "/etc/<script>alert(1)</script>"),
		text("#alerts", "by 4242 (/usr/bin/vi) uid 0"), text("#phases", "upgrade"))

	// The probe sees a violation when there is one: an inline style set
	// from script is refused under the policy.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.body.setAttribute("style", "color: red")`))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__csp.length > 0`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !ok {
		t.Errorf("an inline style raised no policy violation (%v): the probe or the policy does not work", err)
	}
}
