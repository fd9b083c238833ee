package main

import (
	"context"
	"fmt"

	"vigil/internal/config"
	"vigil/internal/daemon"
)

const configAbout = `  default  print the embedded default configuration, with its comments: the
           starting point for /etc/vigil/vigil.toml
  check    load the configuration (--config FILE, /etc/vigil/vigil.toml, or
           the default) and report every problem in it; exit 0 if it is
           valid, 17 if not`

func runConfig(ctx context.Context, e *env, inv *invocation) int {
	args := inv.args
	if len(args) != 1 {
		return e.fail(&usageError{msg: "config takes one argument: default or check", cmd: inv.cmd})
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
		if err := daemon.CheckRemediation(c, watchRestorer(c)); err != nil {
			return e.fail(err)
		}
		if !e.quiet {
			fmt.Fprintf(e.stdout, "%s: valid; %d roots, database %s, keep %d, digest %s\n", c.Source, len(c.Roots), c.Database, c.Keep, c.Digest())
		}
		return exitOK
	}
	return e.fail(&usageError{msg: fmt.Sprintf("config: unknown argument %q", args[0]), cmd: inv.cmd})
}
