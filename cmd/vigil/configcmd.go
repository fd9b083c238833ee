package main

import (
	"context"
	"fmt"

	"vigil/internal/config"
)

const configUsage = `vigil config default|check

  default  print the embedded default configuration, with its comments: the
           starting point for /etc/vigil/vigil.toml
  check    load the configuration (--config FILE, or the default) and report
           every problem in it; exit 0 if it is valid, 17 if not
`

func runConfig(ctx context.Context, e *env, args []string) int {
	if len(args) != 1 {
		return e.usage("config takes one argument: default or check")
	}
	switch args[0] {
	case "default":
		if _, err := e.stdout.Write(config.DefaultText()); err != nil {
			return e.fail(err)
		}
		return exitOK
	case "check":
		c, err := e.config()
		if err != nil {
			return e.fail(err)
		}
		if _, err := c.Matcher(); err != nil {
			return e.fail(err)
		}
		if !e.quiet {
			fmt.Fprintf(e.stdout, "%s: valid; %d roots, digest %s\n", c.Source, len(c.Roots), c.Digest())
		}
		return exitOK
	}
	return e.usage(fmt.Sprintf("config: unknown argument %q", args[0]))
}
