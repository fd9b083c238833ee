// Package deptest holds tests only: they check vigil's package graph and
// third-party modules against the allow-lists below, so that an import that
// points up a layer, or a new dependency, is a decision and not an accident.
// Models: tailscale/tailscale tstest/deptest (what a binary may link) and
// restic/restic's depguard rules (each rule with its reason).
//
// The layers (imports point down only, transitively; within a row only the
// edges listed in allowed):
//
//	cmd/vigil  cmd/vigil-bench  (internal/e2e: tests only)
//	internal/daemon  internal/fleet  (internal/trusttest: tests only)
//	internal/engine
//	internal/watch  internal/config  internal/report  internal/progress  internal/posture
//	alerts  store  btrfs  scanner  bench
//	merkle  internal/fsys  internal/textdiff  (internal/fimtest, internal/deptest: tests only)
//
// What is checked: the vigil→vigil edges, direct and transitive
// (TestPackageEdges, TestLayers); which vigil package may import which
// third-party module (TestModuleImporters); the modules go.mod requires
// (TestModules); what cmd/vigil links (TestVigilLinks) and how big it is
// (TestVigilSize); the README's package map (TestREADMEPackageMap).
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "vigil"

// allowed lists, for every vigil package but those under cmd/, the vigil
// packages it may import (paths relative to the module). A package missing
// here fails the test: add it, with its edges, when you add the package.
var allowed = map[string][]string{
	// Pure: the Merkle tree and entry encoding.
	"merkle": {},
	// The one openat2 wrapper and the fault-injection seam of the calls
	// that write to the host; it knows nothing of vigil.
	"internal/fsys": {},
	// Walks and hashes trees into merkle entries.
	"scanner": {"merkle", "internal/fsys"},
	// The Btrfs ioctls and subvolume calls; it knows nothing of baselines.
	"btrfs": {"internal/fsys"},
	// The baseline database. Its stat cache is a scanner.Cache by its
	// method set, not by import: the engine hands it to the scanner. fsys:
	// the injector its commits are offered to (Options.Faults).
	"store": {"merkle", "internal/fsys"},
	// Alerts describe changes; they never reach into the database (store)
	// or the filesystem layer: a small interface is declared instead.
	"alerts":            {"merkle", "internal/textdiff"},
	"internal/config":   {"merkle"},
	"internal/report":   {"alerts", "merkle", "internal/progress", "internal/textdiff"},
	"internal/progress": {},
	// Collectors of the host's security posture, profiles and the
	// compliance report; merkle hashes its entries (posture tree).
	"internal/posture": {"merkle"},
	// Filesystem notifications turned into hints; it knows nothing of
	// baselines or alerts (the daemon wires it to them).
	"internal/watch": {},
	// The watch service: it wires the engine, the intake and delivery; only
	// cmd may import it.
	// scanner: the counters of a check's progress (the watchdog's).
	"internal/daemon": {"internal/engine", "internal/config", "internal/watch", "internal/console", "alerts", "store", "merkle", "internal/textdiff", "scanner"},
	// The Nix store verified against the Nix database (NAR hashes,
	// signatures, closures); it knows nothing of baselines: the engine
	// keeps its snapshot in a monitored file the baseline attests.
	"internal/nix": {},
	// The Nix store's sealed records as the leaves of a Merkle tree of
	// their own (its root in the signed statement), and their proofs.
	"internal/nixtree": {"internal/nix", "merkle"},
	// The engine wires everything below it; only cmd may import it.
	// fsys: kept content is read with openat2 (no symlink anywhere in the
	// path); textdiff: the diffs of kept content; nix: the Nix store's
	// check (CheckNix), against the snapshot the baseline attests.
	"internal/engine": {"internal/config", "scanner", "store", "merkle", "btrfs", "internal/fsys", "internal/textdiff", "internal/posture", "internal/nix", "internal/nixtree"},
	// Bounded unified diffs of kept content, masked; it knows nothing of
	// vigil.
	"internal/textdiff": {},
	// The fleet on NATS JetStream: the host's agent (the engine's
	// witness) and the witness service; it goes through the engine's
	// trust decision and raises events in alerts' schema.
	"internal/fleet": {"internal/engine", "internal/config", "internal/console", "internal/report", "alerts", "store", "merkle"},
	// The read-only web console: templates and the pages' view types; its
	// sources (the daemon, the fleet) hand it plain values.
	"internal/console": {},
	// The benchmark harness runs vigil and its competitors as separate
	// binaries; it needs no vigil package.
	"bench": {},
	// Builds real file trees for tests; test code only (see testOnly). It
	// may build merkle entries, nothing above.
	"internal/fimtest": {"merkle"},
	// The table of attacks on the trust decision that the CLI's and the
	// daemon's tests both run; test code only (see testOnly).
	"internal/trusttest": {"internal/engine", "internal/config", "internal/fimtest", "store"},
	// End-to-end tests that build and run cmd/vigil; its only non-test
	// file is its doc (see testOnly).
	"internal/e2e": {},
	// This package: tests only.
	"internal/deptest": {},
}

// testOnly are packages that only _test.go files may import.
// They may import each other.
var testOnly = []string{"internal/fimtest", "internal/trusttest", "internal/e2e"}

// cmdOnly are packages only commands (cmd/...) may import, but for the
// engine, which the daemon uses too (see engineUsers).
var cmdOnly = []string{"bench", "internal/engine", "internal/daemon"}

// engineUsers may import internal/engine besides cmd: the daemon runs the
// same operations as the CLI, it does not reach around them.
// internal/trusttest drives the engine's trust decision for the tests of
// both.
var engineUsers = []string{"internal/daemon", "internal/trusttest", "internal/fleet"}

// execAllowed may import os/exec (besides tests): they run other programs
// on purpose. Nothing on the monitoring path may, but for alerts: its exec
// sink, and the daemon's exec remediation through alerts.RunCommand, run
// the command the operator configured, with the event on stdin, after the
// verdict (nothing it runs decides what is monitored).
// internal/fimtest, which only tests import (testOnly), runs mkfs, losetup
// and mount for the loop-mounted filesystems of root-only tests.
// internal/posture runs systemd-analyze security and nft list ruleset,
// read-only, found on PATH: their output is posture (scores, a digest),
// never what decides which files are monitored.
func execAllowed(rel string) bool {
	return isCmd(rel) || rel == "bench" || rel == "alerts" || rel == "internal/fimtest" || rel == "internal/posture"
}

// modules are the third-party modules vigil requires directly, each for a
// reason the README states. Their own dependencies may appear in go.mod as
// indirect requirements.
var modules = []string{
	"github.com/zeebo/blake3",             // content and node hashes
	"lukechampine.com/blake3",             // BLAKE3's chaining values: one large file hashed on every core (scanner only)
	"go.etcd.io/bbolt",                    // the baseline database
	"github.com/rs/zerolog",               // logging in cmd
	"golang.org/x/sys",                    // lstat, xattrs, inode flags, openat
	"golang.org/x/sync",                   // errgroup
	"golang.org/x/term",                   // terminal detection for progress and colour
	"github.com/google/go-cmp",            // tests
	"github.com/BurntSushi/toml",          // the configuration file
	"github.com/bmatcuk/doublestar/v4",    // exclude and rule patterns
	"golang.org/x/mod",                    // signed notes (seal) and the RFC 6962 audit log (tlog)
	"github.com/transparency-dev/formats", // C2SP tlog-checkpoint of the audit log
	"github.com/fsnotify/fsnotify",        // inotify intake of the watch (internal/watch only)
	"github.com/nats-io/nats.go",          // the JetStream sink (alerts)
	"github.com/nats-io/nats-server/v2",   // tests only: a real JetStream server in-process on loopback
	"github.com/chromedp/chromedp",        // tests only: the console in a real headless Chromium
	"github.com/chromedp/cdproto",         // tests only: chromedp's protocol types (console errors, CSP probe)
	"github.com/prometheus/client_golang", // /metrics of vigil watch (internal/daemon only)
	"github.com/containerd/btrfs/v2",      // Btrfs subvolume create and snapshot (btrfs only, cgo)
	"github.com/coreos/go-systemd/v22",    // sd_notify readiness, watchdog and status of vigil watch (cmd only)
	"github.com/klauspost/compress",       // zstd of the content kept for diffing (store only)
	"modernc.org/sqlite",                  // the Nix database, read-only (internal/nix only; pure Go)
}

func isCmd(rel string) bool { return strings.HasPrefix(rel, "cmd/") }

// goCmd runs the go command in the module root and returns its stdout.
func goCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is not on PATH, needed to list packages: %v", err)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// moduleRoot is two directories up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string // transitive, standard library included
	Error      *struct{ Err string }
}

// vigilPackages lists every package of the module with its imports.
func vigilPackages(t *testing.T) []pkg {
	t.Helper()
	out := decodePackages(t, goCmd(t, "list", "-e", "-json=ImportPath,Imports,Deps,Error", "./..."))
	if len(out) == 0 {
		t.Fatal("go list found no packages")
	}
	return out
}

// decodePackages decodes the JSON stream of go list -json.
func decodePackages(t *testing.T, b []byte) []pkg {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []pkg
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// rel returns the path of a vigil package relative to the module, ok false
// for other packages.
func rel(importPath string) (string, bool) {
	if r, ok := strings.CutPrefix(importPath, module+"/"); ok {
		return r, true
	}
	return "", false
}

func TestPackageEdges(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range vigilPackages(t) {
		from, ok := rel(p.ImportPath)
		if !ok {
			t.Errorf("go list ./... lists %q, outside module %q", p.ImportPath, module)
			continue
		}
		seen[from] = true
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		may, known := allowed[from]
		if !known && !isCmd(from) {
			t.Errorf("package %s is not in the allow-list of internal/deptest: add it with the vigil packages it may import", from)
			continue
		}
		for _, imp := range p.Imports {
			if imp == "os/exec" && !execAllowed(from) {
				t.Errorf("%s imports os/exec: only cmd/..., bench and alerts (the exec sink) may run programs", from)
			}
			to, mine := rel(imp)
			switch {
			case !mine:
			case isCmd(to):
				t.Errorf("%s imports %s: nothing may import a command", from, to)
			case slices.Contains(testOnly, to) && !slices.Contains(testOnly, from):
				t.Errorf("%s imports %s outside its tests: %s is for tests only", from, to, to)
			case to == "internal/engine" && slices.Contains(engineUsers, from):
			case slices.Contains(cmdOnly, to) && !isCmd(from):
				t.Errorf("%s imports %s: only cmd/... may import %s", from, to, to)
			case from == "cmd/vigil" && to == "bench":
				t.Errorf("cmd/vigil imports bench: the benchmark harness stays out of the monitor's binary (cmd/vigil-bench has it)")
			case !isCmd(from) && !slices.Contains(may, to):
				t.Errorf("%s imports %s: edge not allowed (allowed: %s)", from, to, strings.Join(may, ", "))
			}
		}
	}
	// The allow-list should not outlive the packages it describes.
	for p := range allowed {
		if !seen[p] {
			t.Errorf("allow-list names package %s, which go list does not find", p)
		}
	}
}

type goMod struct {
	Require []struct {
		Path     string
		Indirect bool
	}
	Tool []struct{ Path string } // go.mod's tool directives (staticcheck, govulncheck)
}

func TestModules(t *testing.T) {
	var mod goMod
	if err := json.Unmarshal(goCmd(t, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var direct, indirect []string
	for _, r := range mod.Require {
		if r.Indirect {
			indirect = append(indirect, r.Path)
		} else {
			direct = append(direct, r.Path)
		}
	}
	for _, m := range direct {
		if !slices.Contains(modules, m) {
			t.Errorf("go.mod requires %s, which is not in the allow-list of internal/deptest (and the README)", m)
		}
	}
	for _, m := range modules {
		if !slices.Contains(direct, m) {
			t.Errorf("allow-list names %s, which go.mod does not require directly", m)
		}
	}

	// Every indirect requirement is needed by an allowed module, or by a
	// tool go.mod pins (its module is an indirect requirement itself).
	roots := slices.Clone(modules)
	for _, tool := range mod.Tool {
		for _, m := range indirect {
			if tool.Path == m || strings.HasPrefix(tool.Path, m+"/") {
				roots = append(roots, m)
			}
		}
	}
	reach := reachable(t, roots)
	for _, m := range roots[len(modules):] {
		reach[m] = true
	}
	for _, m := range indirect {
		if !reach[m] {
			t.Errorf("go.mod requires %s (indirect), which no allow-listed module depends on", m)
		}
	}
}

// reachable returns the modules that roots depend on, directly or not, by
// `go mod graph`.
func reachable(t *testing.T, roots []string) map[string]bool {
	t.Helper()
	edges := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(goCmd(t, "mod", "graph"))), "\n") {
		from, to, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		from, _, _ = strings.Cut(from, "@")
		to, _, _ = strings.Cut(to, "@")
		edges[from] = append(edges[from], to)
	}
	seen := map[string]bool{}
	todo := slices.Clone(roots)
	for len(todo) > 0 {
		m := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, d := range edges[m] {
			if !seen[d] {
				seen[d] = true
				todo = append(todo, d)
			}
		}
	}
	return seen
}
