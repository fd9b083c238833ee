// Package e2e holds vigil's end-to-end tests: they build cmd/vigil and run
// it as a user or an attacker would (kill -9 at random moments, damaged
// databases, the watch benchmark), so that no lower package's tests depend
// on the command at the top.
//
// The short tier (go test ./..., make test) runs each with a few rounds;
// the long tier (VIGIL_LONG=1, make test-long) with the full sweep. The
// package holds no code besides its tests.
package e2e
