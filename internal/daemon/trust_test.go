package daemon

import (
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"vigil/alerts"
	"vigil/internal/trusttest"
)

// TestTrustTable runs the trust table through the daemon's verifier (a
// whole check, as at the start): the same verdicts as vigil check's
// (cmd/vigil TestTrustTable).
func TestTrustTable(t *testing.T) {
	t.Parallel()
	for _, c := range trusttest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			h := trusttest.NewHost(t)
			if c.Attack != nil {
				c.Attack(t, h)
			}
			v := &verifier{dbPath: h.DB, host: "test", log: zerolog.Nop(), alerted: map[string]string{},
				resolved: map[string]int{}, dirty: map[string]bool{}, stats: newStats()}
			evs, err := v.run(t.Context(), h.Config, job{whole: true, why: "start"})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var critical, changes []string
			phase := v.phase
			for _, ev := range evs {
				if ev.Vigil != nil && ev.Vigil.Phase != phase {
					t.Errorf("%s event of phase %q, want %q", ev.Event.Action, ev.Vigil.Phase, phase)
				}
				switch {
				case ev.File != nil:
					changes = append(changes, ev.Event.Action+" "+ev.File.Path)
					if ev.Event.Severity != alerts.SeverityAlert && c.Phase == "hardened" {
						t.Errorf("%s of %s: severity %d in the hardened phase, want %d", ev.Event.Action, ev.File.Path, ev.Event.Severity, alerts.SeverityAlert)
					}
				case ev.Event.Severity == alerts.SeverityCritical:
					critical = append(critical, ev.Event.Action)
				}
			}
			if c.Untrusted {
				if len(changes) != 0 || !slices.Equal(critical, []string{c.Action}) {
					t.Errorf("untrusted baseline: changes %q, critical %q; want none and [%s]", changes, critical, c.Action)
				}
				if v.signed.Load() {
					t.Errorf("untrusted baseline: remediation would act (signed)")
				}
				return
			}
			if !slices.Equal(critical, c.Critical) || (len(changes) > 0) != c.Changed || phase != c.Phase {
				t.Errorf("critical %q, changes %q, phase %q; want %q, changed %v, %q", critical, changes, phase, c.Critical, c.Changed, c.Phase)
			}
			if !v.signed.Load() && c.Critical == nil {
				t.Errorf("a sealed, trusted baseline: remediation would not act")
			}
		})
	}
}
