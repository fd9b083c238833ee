package main

import (
	"context"
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
	{exitTampered, "vigil cannot vouch for the host (combined with 1, 2, 4): the baseline failed its integrity check or its seal, the database was put back (its audit log does not extend the kept checkpoint, or the kept checkpoint is missing), a marker disagrees with the recorded phase (phase_marker_mismatch), a sealed baseline with no key pinned or an unsealed one in the hardened phase, the setup phase outlasted phase.setup_max_age (setup_overdue), or a Btrfs device under the roots counts errors the baseline did not (check); for restore: a path refused for an integrity reason (an untrusted snapshot, a copy that is not the baseline's)"},
	{exitInternal, "internal error"},
	{exitUsage, "bad argument (including init over an existing baseline without --force, a PATH that does not exist or lies outside the baseline's roots, an update --from report the host no longer matches, update, init --force or seal --statement-out in the hardened phase: use reseal; a seal of a sealed host with pending changes and no --reason)"},
	{exitConfig, "configuration error (including a database inside a monitored root, a baseline of roots none of which exists)"},
	{exitIO, "I/O error"},
	{exitVersion, "database schema version mismatch (an older database: run vigil migrate)"},
	{exitKey, "a signing or verifier key that cannot be used (seal, reseal, sign, verify --pubkey)"},
	{exitDatabase, "database error: missing, locked by another vigil, corrupt, no baseline"},
	{exitInterrupt, "interrupted (SIGINT, SIGTERM)"},
}

const exitNote = "1, 2 and 4 combine (7 = added, removed and changed); a move counts as added and removed (3). " +
	"Codes 14 and up are not a bitmask: test for them first."

const initAbout = `Take a baseline of PATHs, or of the configured roots, hashing every file, and
make it the current one. Refuses to replace an existing baseline without
--force. A PATH that does not exist is an error; configured roots that do not
exist on this host are skipped with a warning, but a baseline in which none
of them exists is refused. Nothing is created on disk (no directory, no
database) unless the baseline can be taken. Paths that cannot be read are
reported on stderr once and recorded with their error and what lstat says
about them; the baseline is written and init exits 4 to say it is incomplete.`

const checkAbout = `Compare the host with the current baseline: the whole baseline, or only the
subtrees at PATHs. Files whose inode, inode generation, size, mtime and ctime
are unchanged are not read again, except a keyed, rotating sample of them
(scan.reread_within), unless --full is given (which reads from the disk, not
the page cache). The baseline itself is verified against its root hash on the
way; with a pinned key (--pubkey, trust.pubkey), a baseline not sealed by it
is not compared with (exit 8). With --quiet nothing is printed when nothing
changed.

Each change is one line: a marker, one column per attribute, the type and
the path. Changes that matter for privilege (setuid or setgid bits, file
capabilities, the owner of an executable, a new executable) end in
"(security: ...)" and are shown in bold red on a terminal; --verbose adds
old -> new for every changed attribute below the line.

Markers:
  +  added          -  removed        ~  changed
  >  moved (old -> new path)           !  could not be checked (error)

Attribute columns, in order (a letter where the attribute changed, "." where
it did not, "+"/"-" on every column of an added/removed entry):
  C  content (hash; a device's number)   T  type
  p  permissions (incl. setuid/setgid)   u  owner (uid)
  g  group (gid)                         s  size
  m  mtime                               c  ctime
  i  inode                               n  link count
  x  extended attributes (capabilities)  l  symlink target
  f  inode flags (chattr)`

const updateAbout = `Accept the current state as the new baseline: of the baseline's roots, or
only of the subtrees at PATHs (the rest of the baseline is carried over).
A change of the configured roots takes a new baseline: init --force. The
changes accepted are reported as by check. Nothing is written when nothing
changed; a baseline that fails its integrity check is not updated (exit 8).

To accept exactly what was reviewed: --entry accepts the changes of the
entries named by PATHs and nothing below them; --from REPORT accepts only the
changes listed in a saved 'vigil check --json' report, and refuses (exit 15,
nothing written) when the baseline is no longer the one the report was made
against or a listed entry is no longer in the state the report shows.
Changes not accepted stay pending: the next check reports them again.
--reason, the uid and the login name are logged with the new baseline.`

const statusAbout = `Show the current baseline: root hash, time, host, counts, roots, the
configuration in use (and whether it is the one the baseline was taken
with), the database path and size, and the older baselines kept.`

const verifyAbout = `Check the database: bbolt's own page consistency check, every record
decodes, and every kept baseline hashes to its recorded directory and root
hashes. Exit 0 if all is well, 8 if a baseline does not match its hashes,
24 if the database is damaged.`

const configAbout = `  default  print the embedded default configuration, with its comments: the
           starting point for /etc/vigil/vigil.toml
  check    load the configuration (--config FILE, /etc/vigil/vigil.toml, or
           the default) and report every problem in it; exit 0 if it is
           valid, 17 if not`

const completionAbout = `Print the completion script for bash, zsh or fish (make install puts them
where the shells look: bash-completion, zsh site-functions, fish
vendor_completions.d).`

const helpAbout = `Show the overview, or the help of COMMAND ('vigil COMMAND --help' does the same).`

const versionAbout = `Print vigil's version and the commit it was built from.`

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

func runVersion(ctx context.Context, e *env, inv *invocation) int {
	fmt.Fprintln(e.stdout, versionString())
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
