package main

import (
	"context"
	"fmt"
)

const completionAbout = `Print the completion script for bash, zsh or fish (make install puts them
where the shells look: bash-completion, zsh site-functions, fish
vendor_completions.d).`

func runCompletion(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 {
		return e.fail(&usageError{msg: "completion takes one argument: bash, zsh or fish", cmd: inv.cmd})
	}
	gen := map[string]func() string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[inv.args[0]]
	if gen == nil {
		return e.fail(&usageError{msg: fmt.Sprintf("completion: unknown shell %q", inv.args[0]), cmd: inv.cmd})
	}
	fmt.Fprint(e.stdout, gen())
	return exitOK
}
