package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vigil/internal/console"
	"vigil/internal/report"
	"vigil/merkle"
)

// ConsoleSource is the web console's view of the fleet (vigil fleet serve
// --listen): every host's status, and a host's witnessed history, read
// from JetStream per request. It never writes.
type ConsoleSource struct {
	Conn *Conn
	// Now is the clock of heartbeat ages; nil means time.Now.
	Now func() time.Time
	// Golden verifies golden baselines (fleet.golden_keys); nil: the diff
	// page compares hosts only.
	Golden goldenVerifiers
}

var _ console.Source = (*ConsoleSource)(nil)

func (s *ConsoleSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Phase is nil: a fleet console serves no host of its own.
func (s *ConsoleSource) Phase(context.Context) (*console.Phase, error) { return nil, nil }

func summary(h HostStatus) console.HostSummary {
	drift := -1
	if h.PortableRoot != "" {
		drift = h.Drift
	}
	return console.HostSummary{Name: h.Host, Profile: h.Profile, Phase: h.Phase, Sealed: h.Sealed, Root: h.Root,
		Witnessed: uint64(max(h.Witnessed, 0)), Heartbeat: h.Heartbeat, State: h.State, Drift: drift}
}

// Hosts lists every host's status.
func (s *ConsoleSource) Hosts(ctx context.Context) ([]console.HostSummary, error) {
	st, err := s.Conn.Status(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]console.HostSummary, 0, len(st))
	for _, h := range st {
		out = append(out, summary(h))
	}
	return out, nil
}

// Host is one host's status and its witnessed history: its updates (the
// phase moves among them) and the witnesses' decisions, newest first.
func (s *ConsoleSource) Host(ctx context.Context, name string) (*console.Host, error) {
	st, err := s.Conn.Status(ctx, s.now())
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(st, func(h HostStatus) bool { return h.Host == name })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", console.ErrNoHost, name)
	}
	h := &console.Host{HostSummary: summary(st[i])}
	log, err := s.Conn.Log(ctx, name)
	if err != nil {
		return nil, err
	}
	phase := ""
	for _, l := range log {
		switch l.Kind {
		case "update":
			h.Audit = append(h.Audit, console.AuditRecord{Index: l.Revision, Time: l.Time, Type: "update", Baseline: l.Baseline,
				Root: l.Root})
			if l.Phase != nil && l.Phase.Phase != phase {
				if phase != "" {
					h.PhaseHistory = append(h.PhaseHistory, console.PhaseChange{Time: l.Phase.Since, From: phase, To: l.Phase.Phase,
						Signed: l.Phase.Signed})
				}
				phase = l.Phase.Phase
			}
		default:
			r := console.AuditRecord{Index: l.Revision, Time: l.Time, Type: "decision: " + l.State, Reason: l.Problem}
			if l.State == StateOK || l.State == StateDrifted {
				r.Cosigners = []string{l.Witness}
			}
			h.Audit = append(h.Audit, r)
		}
	}
	slices.Reverse(h.Audit)
	slices.Reverse(h.PhaseHistory)
	return h, nil
}

// Diff compares host with other, or with its profile's golden baseline
// (verified with Golden), by descent over the manifests.
func (s *ConsoleSource) Diff(ctx context.Context, host, other string, golden bool) (*console.DiffView, error) {
	b, err := s.Conn.PortableRoot(ctx, host)
	if err != nil {
		return nil, err
	}
	v := &console.DiffView{To: host}
	var a merkle.Hash
	if golden {
		if s.Golden == nil {
			return nil, errors.New("no fleet.golden_keys: golden baselines cannot be verified")
		}
		profile, err := s.Conn.ProfileOf(ctx, host)
		if err != nil {
			return nil, err
		}
		g, err := s.Conn.Golden(ctx, profile, s.Golden)
		if err != nil {
			return nil, err
		}
		if a, err = g.GoldenRoot(); err != nil {
			return nil, err
		}
		v.From = "golden " + profile + " (" + g.Host + ")"
	} else {
		if a, err = s.Conn.PortableRoot(ctx, other); err != nil {
			return nil, err
		}
		v.From = other
	}
	nodes, err := s.Conn.DiffRoots(ctx, a, b, func(c merkle.Change) error {
		v.Entries = append(v.Entries, console.DiffEntry{Action: c.Action.String(), Path: c.Path, Details: report.Details(c)})
		return nil
	})
	if nodes != nil {
		v.Fetched, v.Bytes = nodes.Fetched, nodes.Bytes
	}
	return v, err
}
