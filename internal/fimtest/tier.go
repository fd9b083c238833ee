package fimtest

import (
	"os"
	"testing"
)

// LongEnv is the environment variable that selects the long tier: set (to
// anything but ""), tests run their long end-to-end cases and the full
// number of rounds of their loops. `make test-long` and .ci/run set it.
const LongEnv = "VIGIL_LONG"

// IsLong reports whether the long tier runs ([LongEnv] is set).
func IsLong() bool { return os.Getenv(LongEnv) != "" }

// Long skips t with the reason unless the long tier runs.
func Long(t testing.TB, why string) {
	t.Helper()
	if !IsLong() {
		t.Skipf("long tier (%s): runs with %s=1 (make test-long)", why, LongEnv)
	}
}

// Rounds returns short, or long when the long tier runs: the size of a
// loop whose short version still proves something.
func Rounds(short, long int) int {
	if IsLong() {
		return long
	}
	return short
}
