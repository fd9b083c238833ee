package main

import (
	"context"
	"fmt"
)

const versionAbout = `Print vigil's version and the commit it was built from.`

func runVersion(ctx context.Context, e *env, inv *invocation) int {
	fmt.Fprintln(e.stdout, versionString())
	return exitOK
}
