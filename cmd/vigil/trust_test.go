package main

import (
	"slices"
	"testing"

	"vigil/internal/trusttest"
)

// TestTrustTable runs the trust table through vigil check; the daemon's
// verifier runs the same table (internal/daemon TestTrustTable) and must
// reach the same verdicts.
func TestTrustTable(t *testing.T) {
	t.Parallel()
	for _, c := range trusttest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			h := trusttest.NewHost(t)
			if c.Attack != nil {
				c.Attack(t, h)
			}
			out := vigil(t, "--config", h.ConfigFile, "--quiet", "check", "--json")
			if c.Untrusted {
				if out.code != exitTampered || out.stdout != "" {
					t.Errorf("check of an untrusted baseline exited %d with %q, want 8 and nothing compared\n%s", out.code, out.stdout, out.stderr)
				}
				return
			}
			want := 0
			if c.Changed {
				want |= exitChanged
			}
			if len(c.Critical) > 0 {
				want |= exitTampered
			}
			_, sum := decodeEvents(t, out.stdout)
			if out.code != want || !slices.Equal(sum.Trust, c.Critical) || sum.Phase != c.Phase {
				t.Errorf("check exited %d, trust %q, phase %q; want %d, %q, %q\n%s%s", out.code, sum.Trust, sum.Phase, want, c.Critical, c.Phase, out.stdout, out.stderr)
			}
		})
	}
}
