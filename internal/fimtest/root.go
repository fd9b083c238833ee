package fimtest

import (
	"os"
	"testing"
)

// RequireRootEnv is the environment variable CI sets so that a test which
// needs root fails instead of skipping: there the machine can run it and
// must.
const RequireRootEnv = "VIGIL_REQUIRE_ROOT_TESTS"

// NeedRoot skips t with the reason unless the process runs as root; with
// RequireRootEnv set it fails t instead.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(RequireRootEnv) != "" {
		t.Fatalf("needs root (%s), and %s is set: this machine must run it", why, RequireRootEnv)
	}
	t.Skipf("needs root: %s", why)
}
