package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"
)

// exitDef documents one exit code.
type exitDef struct {
	code int
	what string
}

// exitCodes are the documented exit codes, for help, the man page and the
// README (a test keeps the README's table in step).
var exitCodes = []exitDef{
	{exitOK, "no differences (check); success (every other command)"},
	{exitAdded, "paths added"},
	{exitRemoved, "paths removed"},
	{exitChanged, "paths changed, or could not be verified (an unreadable file is never reported intact), or check ran with a configuration other than the baseline's; for init: the baseline was written, but paths could not be read (recorded with their error); for restore: a path was refused or failed"},
	{exitTampered, "vigil cannot vouch for the host (combined with 1, 2, 4): the baseline failed its integrity check or its seal, the database was put back (its audit log does not extend the kept checkpoint, or the kept checkpoint is missing), a marker disagrees with the recorded phase (phase_marker_mismatch), a sealed baseline with no key pinned or an unsealed one in the hardened phase, the setup phase outlasted phase.setup_max_age (setup_overdue), or the keyed sample's state file was deleted, written back, edited, set ahead, frozen or could not be written (sample_state_tampered), or a Btrfs device under the roots counts errors the baseline did not (check); for restore: a path refused for an integrity reason (an untrusted snapshot, a copy that is not the baseline's)"},
	{exitInternal, "internal error"},
	{exitUsage, "bad argument (including init over an existing baseline without --force, a PATH that does not exist or lies outside the baseline's roots, an update --from report the host no longer matches, update, init --force or seal --statement-out in the hardened phase: use reseal; a seal of a sealed host with pending changes and no --reason)"},
	{exitConfig, "configuration error (including a database inside a monitored root, a baseline of roots none of which exists)"},
	{exitIO, "I/O error"},
	{exitVersion, "database schema version mismatch (an older database: run vigil migrate; or one a newer vigil wrote, after a rollback of vigil)"},
	{exitKey, "a signing or verifier key that cannot be used (seal, reseal, sign, verify --pubkey)"},
	{exitDatabase, "database error: missing, locked by another vigil, corrupt, no baseline"},
	{exitInterrupt, "interrupted (SIGINT, SIGTERM)"},
}

const exitNote = "1, 2 and 4 combine (7 = added, removed and changed); a move counts as added and removed (3). " +
	"Codes 14 and up are not a bitmask: test for them first."

const helpAbout = `Show the overview, or the help of COMMAND ('vigil COMMAND --help' does the same).`

// helpText is the overview 'vigil help' prints.
func helpText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vigil: file integrity monitor\n\nUsage:\n  %s\n\nCommands:\n", synopsis(nil))
	for _, c := range commands {
		left := c.name
		if c.args != "" {
			left += " " + c.args
		}
		fmt.Fprintf(&b, "  %-24s %s\n", left, c.summary)
	}
	b.WriteString("\nGlobal flags (before or after the command):\n")
	writeFlags(&b, globalFlags)
	b.WriteString("\nRun 'vigil help COMMAND' or 'vigil COMMAND --help' for a command's flags.\n\nExit codes:\n")
	for _, x := range exitCodes {
		fmt.Fprintf(&b, "  %-4d %s\n", x.code, strings.TrimSpace(wrap(x.what, 78, "       ")))
	}
	b.WriteString(wrap(exitNote, 78, "") + "\n")
	return b.String()
}

// commandHelp is what 'vigil help c' prints.
func commandHelp(c *cmdDef) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", synopsis(c), c.about)
	if len(c.flags) > 0 {
		b.WriteString("\nFlags:\n")
		writeFlags(&b, c.flags)
	}
	b.WriteString("\nGlobal flags: --config FILE, --db FILE, --quiet, --help (see 'vigil help').\n")
	return b.String()
}

func writeFlags(b *strings.Builder, fs []flagDef) {
	for _, f := range fs {
		left := flagUsage(f)
		if f.short != "" {
			left = "-" + f.short + ", " + left
		}
		fmt.Fprintf(b, "  %-18s %s\n", left, f.help)
	}
}

// wrap breaks s into lines of at most width runes, each starting with
// indent.
func wrap(s string, width int, indent string) string {
	var lines []string
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// help prints the overview, or one command's help.
func (e *env) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stdout, helpText())
		return exitOK
	}
	c := lookupCommand(args[0])
	if c == nil {
		return e.fail(&usageError{msg: fmt.Sprintf("no help for %q: no such command", args[0])})
	}
	fmt.Fprint(e.stdout, commandHelp(c))
	return exitOK
}

// commit is the commit vigil was built from when the build information has
// none (a git worktree, where the go command stamps nothing): make build
// sets it with -ldflags -X.
var commit string

// versionString is vigil's version and, from the build information, the
// commit it was built from ("+dirty" when the tree had local changes).
func versionString() string {
	s := "vigil " + version
	rev, dirty := commit, ""
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return s + " (commit unknown: built without version control information)"
	}
	return s + " (commit " + rev + dirty + ")"
}

// hostname returns the host's name, or "" if it has none.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

// quote makes a name safe to print on one line.
func quote(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return strconv.Quote(s)
		}
	}
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
