package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The command line is described once, here: the parser, `vigil help`, the
// man page and the shell completions (docs.go) are all made from these
// tables, so none of them can drift from what vigil accepts.

// flagDef is one flag. Long names work with one dash or two ("-json",
// "--json"), values after a space or "=".
type flagDef struct {
	name  string // long name, without dashes
	short string // one-letter alias, or ""
	arg   string // placeholder of its value; "" for a boolean flag
	help  string // one line
	// complete says what the value is, for shell completion: "file",
	// "dir" or "" (nothing to complete).
	complete string
}

// cmdDef is one command.
type cmdDef struct {
	name    string
	args    string // what follows the flags in the synopsis, e.g. "[PATH...]"
	summary string // one line, for the overview
	about   string // the description: paragraphs, then optional extra sections
	flags   []flagDef
	// complete says what the positional arguments are, for shell
	// completion: "path", a list of words ("default check"), or "".
	complete string
	run      func(ctx context.Context, e *env, inv *invocation) int
}

// globalFlags are accepted before and after the command.
var globalFlags = []flagDef{
	{name: "config", arg: "FILE", complete: "file",
		help: "configuration file (default: " + systemConfig + " if it exists, else the embedded default)"},
	{name: "db", arg: "FILE", complete: "file",
		help: "database file (default: the configuration's database, " + defaultDatabase + ")"},
	{name: "quiet", short: "q", help: "no progress display, no informational messages; nothing at all when nothing changed"},
	{name: "help", short: "h", help: "show the help of vigil or of the command"},
	{name: "version", help: "print vigil's version and commit"},
}

var (
	jsonFlag    = flagDef{name: "json", help: "one ECS event per line (NDJSON), then a summary event; log lines on stderr are JSON too"}
	fullFlag    = flagDef{name: "full", help: "reread and rehash every file, from the disk (not the page cache), instead of trusting the stat cache"}
	scanFlag    = flagDef{name: "scan", help: "walk the trees with the stat cache even where a Btrfs search of what changed since the baseline's snapshots would do"}
	verboseFlag = flagDef{name: "verbose", short: "v", help: "show old -> new for every changed attribute, and the diff of kept content"}
	keyFlag     = flagDef{name: "key", arg: "FILE", complete: "file", help: "the signer key (vigil keygen's vigil.key)"}
	pubkeyFlag  = flagDef{name: "pubkey", arg: "FILE", complete: "file", help: "the verifier key the baseline must be signed by (default: trust.pubkey)"}
	reasonFlag  = flagDef{name: "reason", arg: "TEXT", help: "why this baseline is taken (logged with the uid and login name)"}
	sampleFlag  = flagDef{name: "sample-state", arg: "FILE", complete: "file", help: "where the keyed sample's key and last check are kept (default: the database's path + .sample)"}
	entryFlag   = flagDef{name: "entry", help: "accept the changes of the entries at PATHs only, not of what lies below them"}
	fromFlag    = flagDef{name: "from", arg: "REPORT", complete: "file", help: "accept only the changes listed in REPORT, a saved 'check --json'; refuse if the host changed since"}
)

// commands are vigil's commands, in the order help lists them.
var commands = []*cmdDef{
	{name: "init", args: "[PATH...]", summary: "take the baseline of PATHs or of the configured roots",
		about: initAbout, complete: "path", run: runInit,
		flags: []flagDef{{name: "force", help: "replace the current baseline (older ones are kept, see keep)"}, reasonFlag}},
	{name: "check", args: "[PATH...]", summary: "compare the host with the baseline",
		about: checkAbout, complete: "path", run: runCheck,
		flags: []flagDef{jsonFlag, fullFlag, scanFlag, verboseFlag, pubkeyFlag, sampleFlag}},
	{name: "update", args: "[PATH...]", summary: "accept the current state (or the reviewed changes) as the new baseline",
		about: updateAbout, complete: "path", run: runUpdate,
		flags: []flagDef{jsonFlag, fullFlag, scanFlag, verboseFlag, entryFlag, fromFlag, reasonFlag, sampleFlag}},
	{name: "reseal", args: "[PATH...]", summary: "accept planned changes in the hardened phase, signed",
		about: resealAbout, complete: "path", run: runReseal,
		flags: []flagDef{jsonFlag, fullFlag, scanFlag, verboseFlag, entryFlag, fromFlag, keyFlag, reasonFlag,
			{name: "statement-out", arg: "FILE", complete: "file", help: "write the new baseline unsigned and its statement to FILE, to sign elsewhere (needs a pinned key)"},
			{name: "signature", arg: "FILE", complete: "file", help: "attach the signed statement in FILE to the current baseline"},
			pubkeyFlag, sampleFlag}},
	{name: "restore", args: "PATH...", summary: "put paths back from the baseline's trusted Btrfs snapshot, proven against the baseline",
		about: restoreAbout, complete: "path", run: runRestore,
		flags: []flagDef{
			{name: "from", arg: "SNAPSHOT", complete: "dir", help: "restore from this snapshot (one some kept baseline records) instead of the current baseline's"},
			{name: "dry-run", help: "verify and print what would be done; change nothing"},
			{name: "quarantine", arg: "DIR", help: "where replaced inodes go, relative to the subvolume's top (default .vigil-quarantine)"},
			{name: "json", help: "one ECS event per path (NDJSON); log lines on stderr are JSON too"}, pubkeyFlag}},
	{name: "status", summary: "show the current baseline and the configuration in use",
		about: statusAbout, run: runStatus, flags: []flagDef{{name: "json", help: "print the baselines' metadata as JSON"}}},
	{name: "verify", summary: "check the database's consistency and hashes", about: verifyAbout, run: runVerify,
		flags: []flagDef{pubkeyFlag}},
	{name: "keygen", summary: "make a signing key pair", about: keygenAbout, run: runKeygen,
		flags: []flagDef{{name: "name", arg: "NAME", help: "the key's name, in every signature"},
			{name: "out", arg: "DIR", complete: "dir", help: "where to write vigil.key and vigil.pub"}}},
	{name: "seal", args: "[PATH...]", summary: "take, sign and record the trusted baseline",
		about: sealAbout, complete: "path", run: runSeal,
		flags: []flagDef{keyFlag, reasonFlag,
			{name: "statement-out", arg: "FILE", complete: "file", help: "write the baseline unsigned and its statement to FILE, to sign elsewhere"},
			{name: "signature", arg: "FILE", complete: "file", help: "attach the signed statement in FILE to the current baseline"},
			pubkeyFlag}},
	{name: "sign", args: "STATEMENT", summary: "sign a baseline statement (anywhere)", about: signAbout,
		complete: "path", run: runSign, flags: []flagDef{keyFlag}},
	{name: "proof", args: "PATH", summary: "print the proof of one path's recorded state", about: proofAbout,
		complete: "path", run: runProof,
		flags: []flagDef{{name: "baseline", arg: "ID", help: "the baseline to prove against (default: the current one)"},
			{name: "nix", help: "PATH is a store path: prove its record in the baseline's Nix tree"}}},
	{name: "verify-proof", args: "FILE", summary: "check a proof offline", about: verifyProofAbout,
		complete: "path", run: runVerifyProof,
		flags: []flagDef{pubkeyFlag, {name: "against", arg: "LOCALPATH", complete: "file", help: "also read LOCALPATH and say whether it is in the sealed state"}}},
	{name: "phase", args: "[setup]", summary: "show the host's security phase, or leave the hardened phase (signed)", about: phaseAbout, run: runPhase,
		flags: []flagDef{{name: "json", help: "print it as JSON"}, keyFlag, reasonFlag,
			{name: "statement-out", arg: "FILE", complete: "file", help: "write the phase statement to FILE, to sign elsewhere"},
			{name: "signature", arg: "FILE", complete: "file", help: "record the signed phase statement in FILE"},
			pubkeyFlag}},
	{name: "audit", summary: "print the audit log, verified", about: auditAbout, run: runAudit,
		flags: []flagDef{{name: "json", help: "one JSON record per line"}}},
	{name: "posture", summary: "check the host's security posture against a profile: the compliance report",
		about: postureAbout, run: runPosture,
		flags: []flagDef{{name: "json", help: "print the report as one JSON object"},
			{name: "profile", arg: "NAME", help: "the profile to check against: server, workstation or one of posture.profile_file (default: posture.profile, else server)"},
			{name: "baseline", help: "also compare with the posture the current baseline recorded, after check's trust decision"},
			{name: "profiles", help: "print the embedded profiles file (the format and every check) and exit"},
			{name: "lynis", help: "also run lynis audit system (--cronjob --quick; minutes) and check its hardening index"},
			pubkeyFlag}},
	{name: "diff", args: "[A [B]]", summary: "show the differences between two stored baselines, or two Btrfs snapshots",
		about: diffAbout, run: runDiff, flags: []flagDef{jsonFlag, verboseFlag}},
	{name: "log", summary: "list the stored baselines, newest first", about: logAbout, run: runLog,
		flags: []flagDef{{name: "json", help: "one JSON object per baseline and line"}}},
	{name: "compact", summary: "rewrite the database file so that it shrinks", about: compactAbout, run: runCompact},
	{name: "migrate", summary: "convert a database written by an older vigil", about: migrateAbout, run: runMigrate},
	{name: "watch", summary: "watch the roots in real time and deliver verified alerts to the sinks",
		about: watchAbout, run: runWatch},
	{name: "fleet", args: "init|enroll HOST|serve|status|log HOST|golden set|log PROFILE|diff HOST [HOST2]|forget HOST", summary: "the off-host witness on NATS JetStream: init, enroll, serve, status, log, golden, diff, forget",
		about: fleetAbout, complete: "init enroll serve status log golden diff forget", run: runFleet, flags: fleetFlags},
	{name: "nix", args: "check|snapshot|diff", summary: "verify the Nix store against the Nix database and the sealed snapshot",
		about: nixAbout, complete: "check snapshot diff", run: runNix,
		flags: []flagDef{jsonFlag, {name: "full", help: "rehash every store path instead of trusting the per-path stat cache"}, pubkeyFlag}},
	{name: "config", args: "default|check", summary: "print the default configuration / validate a configuration",
		about: configAbout, complete: "default check", run: runConfig},
	{name: "completion", args: "bash|zsh|fish", summary: "print the shell completion script", about: completionAbout,
		complete: "bash zsh fish"}, // run: set in init (the scripts list the commands)
	{name: "help", args: "[COMMAND]", summary: "show the help of vigil or of a command", about: helpAbout, complete: "command"},
	{name: "version", summary: "print vigil's version and commit", about: versionAbout, run: runVersion},
}

func init() { lookupCommand("completion").run = runCompletion }

// invocation is a parsed command line.
type invocation struct {
	cmd   *cmdDef // nil when no command was given
	flags map[string]string
	args  []string // positional arguments
}

func (inv *invocation) bool(name string) bool  { return inv.flags[name] == "true" }
func (inv *invocation) str(name string) string { return inv.flags[name] }

func lookupFlag(fs []flagDef, name string) *flagDef {
	for i := range fs {
		if fs[i].name == name || (fs[i].short != "" && fs[i].short == name) {
			return &fs[i]
		}
	}
	return nil
}

func lookupCommand(name string) *cmdDef {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parse parses a command line: global flags anywhere, the command, its
// flags and arguments in any order; "--" ends the flags.
func parse(args []string) (*invocation, error) {
	inv := &invocation{flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if inv.cmd == nil && i+1 < len(args) {
				if inv.cmd = lookupCommand(args[i+1]); inv.cmd == nil {
					return inv, &usageError{msg: fmt.Sprintf("unknown command %q", args[i+1])}
				}
				i++
			}
			inv.args = append(inv.args, args[i+1:]...)
			return inv, nil
		case len(a) > 1 && a[0] == '-':
			n, err := inv.flag(args, i)
			if err != nil {
				return inv, err
			}
			i += n
		case inv.cmd == nil:
			if inv.cmd = lookupCommand(a); inv.cmd == nil {
				return inv, &usageError{msg: fmt.Sprintf("unknown command %q", a)}
			}
		default:
			inv.args = append(inv.args, a)
		}
	}
	return inv, nil
}

// flag parses the flag at args[i] and returns how many values it took.
func (inv *invocation) flag(args []string, i int) (int, error) {
	a := args[i]
	name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
	f := lookupFlag(globalFlags, name)
	if f == nil && inv.cmd != nil {
		f = lookupFlag(inv.cmd.flags, name)
	}
	if f == nil {
		return 0, &usageError{msg: "unknown flag " + quote(a), cmd: inv.cmd}
	}
	took := 0
	switch {
	case f.arg == "" && hasVal:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return 0, &usageError{msg: fmt.Sprintf("--%s takes no value (or true/false), not %q", f.name, val), cmd: inv.cmd}
		}
		val = strconv.FormatBool(b)
	case f.arg == "":
		val = "true"
	case !hasVal:
		if i+1 >= len(args) {
			return 0, &usageError{msg: fmt.Sprintf("--%s needs a value: --%s %s", f.name, f.name, f.arg), cmd: inv.cmd}
		}
		val, took = args[i+1], 1
	}
	inv.flags[f.name] = val
	return took, nil
}

// synopsis is the usage line of c (of vigil when c is nil).
func synopsis(c *cmdDef) string {
	if c == nil {
		return "vigil [--config FILE] [--db FILE] [--quiet] COMMAND [FLAGS] [ARGS]"
	}
	var b strings.Builder
	b.WriteString("vigil " + c.name)
	for _, f := range c.flags {
		b.WriteString(" [" + flagUsage(f) + "]")
	}
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	return b.String()
}

func flagUsage(f flagDef) string {
	s := "--" + f.name
	if f.arg != "" {
		s += " " + f.arg
	}
	return s
}
