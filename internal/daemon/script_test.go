package daemon

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// TestScripts runs each testdata/scripts/*.txt in a bubble: real files, a
// real baseline database and outbox, the hints a script sends through a
// scripted source, and the fake clock. After the script, the events the
// test sink accepted, in order, must be its Output.
//
// A script is a list of commands, one a line ("#" starts a comment),
// paths relative to the tree's root, texts Go-quoted or one word:
//
//	config LINE       append LINE to the configuration (before init)
//	init              take the baseline (vigil init)
//	start, stop       start the daemon (until READY=1), stop it (SIGTERM)
//	update            take a new baseline while it runs (vigil update)
//	write PATH TEXT   write the file (parents made), and hint it
//	chmod PATH MODE   chmod (octal), and hint it
//	rm PATH           remove (a directory with what it holds), and hint it
//	mv OLD NEW        rename, and hint both names
//	mkdir PATH        mkdir -p, and hint the outermost directory made as a
//	                  tree
//	quiet CMD ...     CMD without its hints (a change inotify missed)
//	hint PATH         a Changed hint
//	hint-tree PATH    a Tree hint
//	lost              a Lost event (inotify's queue overflowed)
//	sink down|up      the sink refuses everything, or takes it again
//	sleep DURATION    let the fake clock run, then wait until the daemon
//	                  idles (all its goroutines blocked)
//
// Before the first start, write creates the tree without hints. The
// Output lines are "ACTION PATH SEVERITY", PATH "-" for events about no
// path.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scripts", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata/scripts (%v)", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cmds, want, err := parseScript(string(data))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			synctest.Test(t, func(t *testing.T) {
				got := runScript(t, cmds)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: events delivered (-want +got):\n%s", f, diff)
				}
			})
		})
	}
}

// command is one line of a script.
type command struct {
	line int
	args []string
}

// parseScript splits a script into its commands and its Output.
func parseScript(text string) (cmds []command, want []string, err error) {
	output := false
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#':
		case line == "Output:":
			output = true
		case output:
			want = append(want, strings.Join(strings.Fields(line), " "))
		default:
			args, err := splitArgs(line)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			cmds = append(cmds, command{line: i + 1, args: args})
		}
	}
	if !output {
		return nil, nil, fmt.Errorf("no Output: section")
	}
	return cmds, want, nil
}

// splitArgs splits a line at spaces; a Go-quoted string is one argument,
// a word starting with "#" begins a comment, and config keeps the rest of
// its line as one argument.
func splitArgs(line string) ([]string, error) {
	if rest, ok := strings.CutPrefix(line, "config "); ok {
		return []string{"config", rest}, nil
	}
	var args []string
	for line = strings.TrimSpace(line); line != "" && line[0] != '#'; line = strings.TrimSpace(line) {
		if line[0] != '"' {
			word, rest, _ := strings.Cut(line, " ")
			args, line = append(args, word), rest
			continue
		}
		q, err := strconv.QuotedPrefix(line)
		if err != nil {
			return nil, err
		}
		s, _ := strconv.Unquote(q)
		args, line = append(args, s), line[len(q):]
	}
	return args, nil
}

// runScript runs cmds and returns the events delivered, as Output lines.
func runScript(t *testing.T, cmds []command) []string {
	var extra strings.Builder
	var h *host
	running := false
	mk := func() *host {
		if h == nil {
			h = newHostAt(t, t.TempDir(), fimtest.Tree{}, func(string) string { return extra.String() })
		}
		return h
	}
	for _, c := range cmds {
		quiet := c.args[0] == "quiet"
		args := c.args
		if quiet {
			args = args[1:]
		}
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("line %d (%s): %s", c.line, strings.Join(c.args, " "), fmt.Sprintf(format, a...))
		}
		need := func(n int) {
			if len(args) != n+1 {
				fail("want %d arguments", n)
			}
		}
		// hint sends what inotify would say of rels, unless quiet or
		// stopped.
		hint := func(op watch.Op, rels ...string) {
			if quiet || !running {
				return
			}
			for _, rel := range rels {
				h.src.send(watch.Event{Path: h.path(rel), Op: op})
			}
			synctest.Wait() // taken in (and looked at) before the next command
		}
		switch args[0] {
		case "config":
			if h != nil {
				fail("config after the host was made")
			}
			extra.WriteString(args[1] + "\n")
		case "init":
			mk().init(t)
		case "start":
			mk().startIdle(t, Options{})
			running = true
		case "stop":
			h.stop(t)
			running = false
		case "update":
			db, err := store.Open(h.db, store.Options{Timeout: wait})
			if err != nil {
				fail("%v", err)
			}
			res, err := engine.Update(context.Background(), db, engine.Options{Config: h.cfg, Reason: "script", Host: "test"})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil || !res.Written {
				fail("engine.Update = %+v, %v; want a new baseline", res, err)
			}
		case "write":
			need(2)
			p := mk().path(args[1])
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				fail("%v", err)
			}
			if err := os.WriteFile(p, []byte(args[2]), 0o644); err != nil {
				fail("%v", err)
			}
			hint(watch.Changed, args[1])
		case "chmod":
			need(2)
			mode, err := strconv.ParseUint(args[2], 8, 32)
			if err == nil {
				err = unix.Chmod(h.path(args[1]), uint32(mode)) // setuid, setgid and sticky too
			}
			if err != nil {
				fail("%v", err)
			}
			hint(watch.Changed, args[1])
		case "rm":
			need(1)
			fi, err := os.Lstat(h.path(args[1]))
			if err == nil {
				err = os.RemoveAll(h.path(args[1]))
			}
			if err != nil {
				fail("%v", err)
			}
			hint(opOf(fi), args[1])
		case "mv":
			need(2)
			fi, err := os.Lstat(h.path(args[1]))
			if err == nil {
				err = os.Rename(h.path(args[1]), h.path(args[2]))
			}
			if err != nil {
				fail("%v", err)
			}
			hint(opOf(fi), args[1], args[2])
		case "mkdir":
			need(1)
			top := args[1] // the outermost directory made
			for d := path.Dir(top); d != "."; d = path.Dir(d) {
				if _, err := os.Lstat(mk().path(d)); err == nil {
					break
				}
				top = d
			}
			if err := os.MkdirAll(mk().path(args[1]), 0o755); err != nil {
				fail("%v", err)
			}
			hint(watch.Tree, top)
		case "hint":
			need(1)
			hint(watch.Changed, args[1])
		case "hint-tree":
			need(1)
			hint(watch.Tree, args[1])
		case "lost":
			need(0)
			h.src.send(watch.Event{Op: watch.Lost, Err: watch.ErrOverflow})
		case "sink":
			need(1)
			h.sink.setDown(args[1] == "down")
		case "sleep":
			need(1)
			d, err := time.ParseDuration(args[1])
			if err != nil {
				fail("%v", err)
			}
			h.settle(d)
		default:
			fail("unknown command")
		}
	}
	if running {
		h.stop(t)
	}
	var out []string
	for _, ev := range h.sink.events() {
		p := "-"
		if ev.File != nil && ev.File.Path != "" {
			if rel, err := filepath.Rel(h.root, ev.File.Path); err == nil {
				p = filepath.ToSlash(rel)
			}
		}
		out = append(out, fmt.Sprintf("%s %s %d", ev.Event.Action, p, ev.Event.Severity))
	}
	return out
}

// opOf is the hint for an entry like fi: a directory is a tree.
func opOf(fi os.FileInfo) watch.Op {
	if fi.IsDir() {
		return watch.Tree
	}
	return watch.Changed
}
