package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Tool names, in the order [ToolNames] lists them.
const (
	VigilInit      = "vigil-init"
	VigilCheck     = "vigil-check"
	VigilCheckFull = "vigil-check-full"
	AideInit       = "aide-init"
	AideCheck      = "aide-check"
	B3sum          = "b3sum"
	Find           = "find"
	FloorTool      = "floor"
)

// ToolNames returns the names of all tools [Tools] knows.
func ToolNames() []string {
	return []string{VigilInit, VigilCheck, VigilCheckFull, AideInit, AideCheck, B3sum, Find, FloorTool}
}

// Tool is one command under test.
type Tool struct {
	// Name identifies the tool in results.
	Name string
	// Prepare is called once per corpus, before the warm-up, with a fresh
	// directory of the tool's own for configs, databases and logs. It returns
	// the command to time on that corpus.
	Prepare func(ctx context.Context, c Corpus, dir string) (*Command, error)
}

// Command is a tool made ready for one corpus.
type Command struct {
	// Argv is the command that is timed.
	Argv []string
	// Setup, if not nil, runs untimed before every run of Argv.
	Setup func(ctx context.Context) error
	// Accept judges the exit status of a run; nil accepts 0 only.
	Accept func(status int) error
	// Database, if not empty, is a file whose size is reported after the
	// last run.
	Database string
}

// Binaries says where the programs under test are. The zero value looks
// vigil, aide and b3sum up in $PATH and has no floor.
type Binaries struct {
	Vigil string // vigil binary; empty means "vigil"
	Aide  string // aide binary; empty means "aide"
	B3sum string // b3sum binary; empty means "b3sum"
	// Floor is the command that runs [Floor] with the root appended, such as
	// {"/path/to/vigil-bench", "floor"}. Required for the floor tool.
	Floor []string
}

// Tools returns the tools with the given names, in that order, or an error
// naming every unknown one.
func Tools(names []string, b Binaries) ([]Tool, error) {
	b = b.withDefaults()
	var tools []Tool
	var errs []error
	for _, name := range names {
		t, err := tool(name, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tools = append(tools, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tools, nil
}

func (b Binaries) withDefaults() Binaries {
	if b.Vigil == "" {
		b.Vigil = "vigil"
	}
	if b.Aide == "" {
		b.Aide = "aide"
	}
	if b.B3sum == "" {
		b.B3sum = "b3sum"
	}
	return b
}

func tool(name string, b Binaries) (Tool, error) {
	var prep func(context.Context, Corpus, string) (*Command, error)
	switch name {
	case VigilInit, VigilCheck, VigilCheckFull:
		prep = vigilTool(name, b.Vigil)
	case AideInit, AideCheck:
		prep = aideTool(name, b.Aide)
	case B3sum:
		prep = b3sumTool(b.B3sum)
	case Find:
		prep = findTool
	case FloorTool:
		if len(b.Floor) == 0 {
			return Tool{}, ErrNoFloor
		}
		prep = floorTool(b.Floor)
	default:
		return Tool{}, fmt.Errorf("%q: %w", name, ErrUnknownTool)
	}
	return Tool{Name: name, Prepare: prep}, nil
}

// b3sumScript hashes every regular file below $1 with the b3sum binary $2.
const b3sumScript = `set -o pipefail; find "$1" -type f -print0 | xargs -0 -P2 -n256 "$2" >/dev/null`

func b3sumTool(b3sum string) func(context.Context, Corpus, string) (*Command, error) {
	return func(_ context.Context, c Corpus, _ string) (*Command, error) {
		return &Command{Argv: []string{"bash", "-c", b3sumScript, "b3sum-pipeline", c.Root, b3sum}}, nil
	}
}

func findTool(_ context.Context, c Corpus, _ string) (*Command, error) {
	return &Command{Argv: []string{"find", c.Root, "-printf", `%s %T@ %i\n`}}, nil
}

func floorTool(prefix []string) func(context.Context, Corpus, string) (*Command, error) {
	return func(_ context.Context, c Corpus, _ string) (*Command, error) {
		return &Command{Argv: append(slices.Clone(prefix), c.Root)}, nil
	}
}
