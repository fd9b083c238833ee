package deptest

import (
	"slices"
	"strings"
	"testing"
)

// A moduleRule says which vigil packages may import a third-party module
// (outside their tests), and why those and no others.
type moduleRule struct {
	importers []string // vigil packages; "cmd/" for every command; none: tests only
	any       bool     // every package may
	why       string
}

// moduleRules has a rule for every module in modules. The test files of a
// package may import what its code may, and the tests-only modules (no
// importers: go-cmp, nats-server, chromedp).
var moduleRules = map[string]moduleRule{
	"go.etcd.io/bbolt": {importers: []string{"store"},
		why: "the database format is store's: everything else reads baselines through its verified API"},
	"github.com/fsnotify/fsnotify": {importers: []string{"internal/watch"},
		why: "notifications are hints turned into paths by the watch: nothing else may depend on inotify"},
	"github.com/rs/zerolog": {importers: []string{"cmd/", "internal/daemon"},
		why: "only commands and the daemon log; libraries return errors"},
	"github.com/bmatcuk/doublestar/v4": {importers: []string{"internal/config"},
		why: "patterns are validated and pre-compiled by config: one place decides what a glob matches"},
	"github.com/nats-io/nats.go": {importers: []string{"alerts", "internal/fleet"},
		why: "the JetStream sink is one of the alert sinks; the fleet's buckets and streams are JetStream's"},
	"github.com/containerd/btrfs/v2": {importers: []string{"btrfs"},
		why: "cgo behind a build tag: the btrfs package keeps it away from everything else"},
	"github.com/prometheus/client_golang": {importers: []string{"internal/daemon"},
		why: "/metrics is the daemon's; its dependency tree stays out of the rest"},
	"github.com/coreos/go-systemd/v22": {importers: []string{"cmd/vigil"},
		why: "sd_notify is the service's concern, at its edge"},
	"golang.org/x/term": {importers: []string{"cmd/"},
		why: "terminal detection for progress and colour is the CLI's"},
	"github.com/BurntSushi/toml": {importers: []string{"internal/config", "bench", "internal/posture"},
		why: "the configuration file (config); bench writes vigil configurations; posture profiles are TOML data"},
	"github.com/zeebo/blake3": {importers: []string{"merkle", "scanner", "internal/config", "internal/engine", "bench", "internal/posture", "internal/nixtree"},
		why: "hashes: nodes (merkle), content (scanner), the configuration digest (config), the sample key (engine), b3sum-equal corpora (bench), posture values (posture), Nix records (nixtree)"},
	"lukechampine.com/blake3": {importers: []string{"scanner"},
		why: "its guts package exports BLAKE3's chaining values, so the scanner hashes the subtrees of one large file on every core; zeebo/blake3 hashes everything else"},
	"golang.org/x/mod": {importers: []string{"store", "internal/engine", "internal/daemon", "internal/trusttest", "internal/fleet", "cmd/"},
		why: "signed notes and the RFC 6962 log: the trust code (store's audit log, the engine's and daemon's verifiers, the CLI's keys, the trust tests' signatures)"},
	"github.com/transparency-dev/formats": {importers: []string{"internal/engine", "internal/fleet", "cmd/"},
		why: "checkpoints of the audit log are read and printed by the trust code; the fleet's witness cosigns them (C2SP cosignature/v1)"},
	"github.com/klauspost/compress": {importers: []string{"store"},
		why: "kept content is compressed in the database: store's format, like bbolt"},
	"modernc.org/sqlite": {importers: []string{"internal/nix"},
		why: "the Nix database is read (never written) in one package; pure Go, so the binary keeps one cgo dependency"},
	"golang.org/x/sys":  {any: true, why: "the system calls the standard library lacks"},
	"golang.org/x/sync": {any: true, why: "errgroup: owned goroutines"},
	"github.com/google/go-cmp": {
		why: "test comparisons only: never in a binary"},
	"github.com/nats-io/nats-server/v2": {
		why: "tests only: a real JetStream server in-process; a monitor never embeds a server"},
	"github.com/chromedp/chromedp": {
		why: "tests only: the console is tested in a real headless Chromium"},
	"github.com/chromedp/cdproto": {
		why: "tests only: the DevTools protocol types of chromedp"},
}

// moduleOf returns the module of a package import path among modules, ok
// false for the standard library and vigil.
func moduleOf(importPath string) (string, bool) {
	best := ""
	for _, m := range modules {
		if (importPath == m || strings.HasPrefix(importPath, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best, best != ""
}

func (r moduleRule) allows(pkg string) bool {
	if r.any {
		return true
	}
	for _, i := range r.importers {
		if i == pkg || (strings.HasSuffix(i, "/") && strings.HasPrefix(pkg, i)) {
			return true
		}
	}
	return false
}

func TestModuleImporters(t *testing.T) {
	for _, m := range modules {
		if r, ok := moduleRules[m]; !ok || r.why == "" {
			t.Errorf("module %s has no rule with a reason in moduleRules: say who may import it and why", m)
		}
	}
	for _, p := range vigilPackages(t) {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if _, mine := rel(imp); mine {
				continue
			}
			m, ok := moduleOf(imp)
			if !ok {
				if strings.Contains(strings.Split(imp, "/")[0], ".") {
					t.Errorf("%s imports %s, of a module not in the allow-list", from, imp)
				}
				continue
			}
			if r := moduleRules[m]; !r.allows(from) {
				who := strings.Join(r.importers, ", ")
				if who == "" {
					who = "tests only"
				}
				t.Errorf("%s imports %s: module %s is for %s (%s)", from, imp, m, who, r.why)
			}
		}
	}
}

// linkBans are what the monitor's binary must not link, and why: a prefix
// of an import path each.
var linkBans = []struct{ prefix, why string }{
	{"github.com/nats-io/nats-server/", "the monitor publishes to JetStream, it never runs a server"},
	{"github.com/google/go-cmp/", "test comparisons"},
	{"github.com/chromedp/", "the browser tests of the console"},
	{"testing", "test code in the binary (a helper package imported outside tests)"},
	{"vigil/bench", "the benchmark harness is vigil-bench's"},
	{"vigil/internal/fimtest", "test trees"},
	{"vigil/internal/deptest", "tests"},
	{"honnef.co/go/tools/", "staticcheck is a development tool"},
	{"golang.org/x/vuln/", "govulncheck is a development tool"},
	{"golang.org/x/tools/", "analysis tooling, a development dependency"},
}

// TestVigilLinks checks what cmd/vigil links, as `go list -deps` sees it.
func TestVigilLinks(t *testing.T) {
	deps := strings.Fields(string(goCmd(t, "list", "-deps", "./cmd/vigil")))
	if !slices.Contains(deps, "vigil/internal/engine") {
		t.Fatalf("go list -deps ./cmd/vigil does not list vigil/internal/engine: got %d packages", len(deps))
	}
	for _, d := range deps {
		for _, b := range linkBans {
			if d == b.prefix || strings.HasPrefix(d, strings.TrimSuffix(b.prefix, "/")+"/") {
				t.Errorf("cmd/vigil links %s: %s; find the import with go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/vigil", d, b.why)
			}
		}
	}
}
