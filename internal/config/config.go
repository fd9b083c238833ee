package config

import (
	_ "embed"
	"errors"
	"os"
	"time"

	"github.com/BurntSushi/toml"

	"vigil/merkle"
)

// Defaults for keys a configuration file leaves out.
const (
	DefaultDatabase     = "/var/lib/vigil/vigil.db"
	DefaultKeep         = 5
	DefaultRereadWithin = 30
)

// MaxWorkers is the largest worker count [Config.Validate] accepts.
const MaxWorkers = 256

// MaxRereadWithin is the largest RereadWithin [Config.Validate] accepts.
const MaxRereadWithin = 1 << 20

// Config is vigil's configuration. [Parse] and [Load] return it validated;
// one built in code can be checked with [Config.Validate]. [DefaultText]
// documents the file format.
type Config struct {
	Database         string   // bbolt file holding the baselines
	Keep             int      // baselines kept for forensic diffs, >= 1
	Roots            []string // absolute clean paths of the trees to watch
	Exclude          []string // doublestar globs; matching paths are not scanned
	ExcludeFiles     []string // doublestar globs excluding only what is not a directory
	CrossFilesystems bool     // descend into other filesystems mounted below a root
	MaxHashSize      int64    // larger files are not hashed; 0 means no limit
	HashWorkers      int      // 0: the scanner's default
	DirWorkers       int      // 0: the scanner's default
	// RereadWithin makes every check read again a keyed, rotating sample
	// of the files the stat cache trusts, so that each file is read at
	// least once in any RereadWithin consecutive checks; 0 turns it off.
	RereadWithin int
	Rules        []Rule // later rules win over earlier ones
	Watch        Watch  // the watch daemon ([watch])
	Sinks        []Sink // where the watch delivers events ([[sink]])
	Source       string // file it came from, or "default" for the embedded one

	// Trust pins what a baseline's signature must verify against.
	Trust Trust
	// Phase says how the host's security phase is told.
	Phase Phase
	// Btrfs sets the trusted snapshots of roots on Btrfs ([btrfs]).
	Btrfs Btrfs
	// Posture records the host's security state with the files ([posture]).
	Posture Posture
	// Fleet is where the host's state is witnessed ([fleet]); see
	// [Fleet.Enabled].
	Fleet Fleet
	// Nix verifies the Nix store against the Nix database ([nix]).
	Nix Nix
}

// Trust is the [trust] table.
type Trust struct {
	// Pubkey is the file holding the verifier key (vigil keygen's
	// vigil.pub) that signed baselines must verify against; "" pins none.
	Pubkey string
	// Checkpoint is a file outside the database where the last audit log
	// checkpoint seen is kept, so that a database put back to an older
	// state is caught; "" keeps none.
	Checkpoint string
}

// Phase is the [phase] table.
type Phase struct {
	// HardenedMarkers are files whose existence means the hardened phase;
	// none means [DefaultHardenedMarker] (see [Phase.Markers]).
	HardenedMarkers []string
	// SetupMaxAge, if positive, is how long a host may stay in the setup
	// phase before that is reported.
	SetupMaxAge time.Duration
}

// DefaultHardenedMarker is the marker the host's transition script writes.
const DefaultHardenedMarker = "/etc/hypervisor/.phase2_hardened"

// Markers returns the hardened-phase markers in force.
func (p Phase) Markers() []string {
	if len(p.HardenedMarkers) == 0 {
		return []string{DefaultHardenedMarker}
	}
	return p.HardenedMarkers
}

// Rule sets which attributes are monitored for the paths it matches, and
// what the watch does after alerting on one of them.
type Rule struct {
	Name  string      // optional, for messages
	Paths []string    // doublestar globs, as in Exclude
	Attrs merkle.Attr // monitored attributes; always includes merkle.AttrType
	// Remediation is what the watch does after an alert on a path this
	// rule decides (the last rule matching it); the zero value alerts only.
	Remediation Remediation
	// FloodLimit (flood_limit), if set, replaces the watch's flood limits
	// for the paths this rule decides (see [Watch.FloodLimit]).
	FloodLimit int
	// Content is the rule's diff, diff_max and diff_private keys: whether
	// vigil keeps the content of the text files it decides, for diffs. A
	// rule with only these keys (Attrs 0) decides no attributes.
	Content Content
}

// DefaultDiffMax is the largest file whose content a rule keeps when it
// sets no diff_max.
const DefaultDiffMax = 64 << 10

// MaxDiffMax is the largest diff_max [Config.Validate] accepts.
const MaxDiffMax = 16 << 20

// Content is a rule's content keeping (see [Matcher.Content]). Whatever it
// says, a file is kept only if it is text (by its content), holds no
// private key, and is not one of the secrets never kept (shadow files).
type Content struct {
	// Set says the rule has a diff key: the last rule that has one and
	// matches a path decides for it.
	Set bool
	// Keep is diff = true.
	Keep bool
	// Max is diff_max: larger files are not kept; 0 means DefaultDiffMax.
	Max int64
	// Private is diff_private = true: keep files that are not
	// world-readable too (by default they are not kept).
	Private bool
}

// Limit returns Max, or DefaultDiffMax for 0.
func (c Content) Limit() int64 {
	if c.Max == 0 {
		return DefaultDiffMax
	}
	return c.Max
}

// Remediation policies (the remediation key of a rule).
const (
	RemediateAlert   = "alert"   // alert only: the default
	RemediateExec    = "exec"    // run Command with the event on stdin
	RemediateRestore = "restore" // put the path back from a trusted snapshot (Btrfs)
)

// Remediation is a rule's remediation, remediation_command and
// remediation_timeout keys.
type Remediation struct {
	// Policy is one of RemediateAlert, RemediateExec and RemediateRestore;
	// "" means RemediateAlert.
	Policy string
	// Command is the argv run by RemediateExec (no shell; the program an
	// absolute path), the event's JSON on its standard input.
	Command []string
	// Timeout bounds a run of Command, which is killed after it; 0 means
	// [DefaultRemediationTimeout].
	Timeout time.Duration
}

// DefaultRemediationTimeout bounds a remediation command whose rule sets
// no remediation_timeout.
const DefaultRemediationTimeout = 30 * time.Second

// Acts reports whether r does more than alert.
func (r Remediation) Acts() bool {
	return r.Policy != "" && r.Policy != RemediateAlert
}

//go:embed default.toml
var defaultText []byte

// Default returns the embedded default configuration (see [DefaultText]),
// parsed afresh so that callers may modify it. It panics only if the
// embedded file is broken, which a test rules out.
func Default() *Config {
	c, err := Parse("default", defaultText)
	if err != nil {
		panic("config: embedded default.toml: " + err.Error())
	}
	return c
}

// DefaultText returns a copy of the text of the embedded default
// configuration, comments included.
func DefaultText() []byte {
	return append([]byte(nil), defaultText...)
}

// Load reads and parses the configuration file at path. Errors reading the
// file are *fs.PathError; problems with its content are as from [Parse].
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is the file name used in
// problems and stored in [Config.Source]. It reports every problem it finds,
// each a *[Problem] with the line of the offending key, joined with
// errors.Join. Keys the file leaves out take their defaults.
func Parse(name string, data []byte) (*Config, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, syntaxProblem(name, err)
	}
	var d decoder
	c := d.config(raw)
	c.Source = name
	for _, p := range c.problems() {
		if !d.isBad(p.key) {
			d.probs = append(d.probs, p)
		}
	}
	if err := joinProblems(name, locate(string(data)), d.probs); err != nil {
		return nil, err
	}
	return c, nil
}

// syntaxProblem converts an error from the TOML parser.
func syntaxProblem(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Problem{File: name, Line: pe.Position.Line, Msg: pe.Message}
	}
	return &Problem{File: name, Msg: err.Error()}
}

// Validate checks c as [Parse] does and returns every problem joined with
// errors.Join. Problems carry the key path but no line number.
func (c *Config) Validate() error {
	return joinProblems(c.Source, nil, c.problems())
}
