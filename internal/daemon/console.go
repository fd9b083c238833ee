package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/console"
	"vigil/internal/engine"
	"vigil/store"
)

// consoleSource is the web console's view of this one host: its phase and
// trust findings from the engine's trust decision (taken per request, read
// only), its baselines and audit log from the database, and the alerts that
// stand from the verifier.
type consoleSource struct {
	p  *pipeline
	mu sync.Mutex
	// eng is the engine of cfg, made again when a reload changes it.
	eng *engine.Engine
	cfg *config.Config
}

var _ console.Source = (*consoleSource)(nil)

// consoleWait bounds how long a page waits for a writer's lock.
const consoleWait = 2 * time.Second

// look opens the database read-only and takes the trust decision.
func (s *consoleSource) look() (*store.DB, engine.Verdict, error) {
	s.mu.Lock()
	cfg := s.p.cfg
	if s.eng == nil || s.cfg != cfg {
		eng, err := engine.New(cfg, engine.Settings{Host: s.p.v.host, Version: s.p.v.version})
		if err != nil {
			s.mu.Unlock()
			return nil, engine.Verdict{}, err
		}
		s.eng, s.cfg = eng, cfg
	}
	eng := s.eng
	s.mu.Unlock()
	db, err := store.Open(s.p.v.dbPath, store.Options{ReadOnly: true, Timeout: consoleWait})
	if err != nil {
		return nil, engine.Verdict{}, err
	}
	v, err := eng.Trust(db)
	if err != nil {
		db.Close()
		return nil, v, err
	}
	return db, v, nil
}

func phaseOf(host string, v engine.Verdict) *console.Phase {
	ph := &console.Phase{Host: host, Phase: v.Phase.Phase, Since: v.Phase.Since, Sealed: v.Sealed,
		Allowed: engine.AllowedOperations(v.Phase.Phase)}
	if v.Untrusted != nil {
		ph.Findings = append(ph.Findings, "untrusted: "+v.Untrusted.Error())
	}
	for _, f := range v.Findings {
		ph.Findings = append(ph.Findings, f.Action)
	}
	return ph
}

func (s *consoleSource) Phase(context.Context) (*console.Phase, error) {
	db, v, err := s.look()
	if err != nil {
		return nil, err
	}
	db.Close()
	return phaseOf(s.p.v.host, v), nil
}

func (s *consoleSource) Hosts(ctx context.Context) ([]console.HostSummary, error) {
	h, err := s.Host(ctx, s.p.v.host)
	if err != nil {
		return nil, err
	}
	return []console.HostSummary{h.HostSummary}, nil
}

func (s *consoleSource) Host(_ context.Context, name string) (*console.Host, error) {
	if name != s.p.v.host {
		return nil, fmt.Errorf("%w: %q (this console serves %s)", console.ErrNoHost, name, s.p.v.host)
	}
	db, v, err := s.look()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	h := &console.Host{Phase: phaseOf(name, v)}
	h.Name, h.Phase.Host = name, name
	h.HostSummary.Phase, h.Sealed, h.State, h.Drift = v.Phase.Phase, v.Sealed, "ok", -1
	if v.Untrusted != nil || v.Critical() {
		h.State = "untrusted"
	}
	all, err := db.Baselines()
	if err != nil {
		return nil, err
	}
	var cur uint64
	if c, err := db.Current(); err == nil {
		cur = c.Info().ID
		h.Root = c.Info().Root.String()
	}
	for _, in := range slices.Backward(all) {
		h.Baselines = append(h.Baselines, console.Baseline{ID: in.ID, Created: in.Created, Command: in.Command,
			Entries: in.Counts.Entries, Root: in.Root.String(), Reason: in.Reason, User: in.User, Current: in.ID == cur})
	}
	err = db.AuditRecords(func(i int64, raw []byte) error {
		var r engine.AuditRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("audit record %d: %w", i, err)
		}
		h.Audit = append(h.Audit, console.AuditRecord{Index: uint64(i), Time: r.Time, Type: r.Type, Baseline: r.Baseline,
			Root: r.Root, Phase: r.Phase, Reason: r.Reason, User: r.User, SignedBy: r.SignedBy})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(h.Audit) // newest first, as the baselines
	for _, m := range slices.Backward(v.Moves) {
		h.PhaseHistory = append(h.PhaseHistory, console.PhaseChange{Time: m.Time, From: m.From, To: m.To,
			User: m.User, Reason: m.Reason, Signed: m.Signed})
	}
	h.Alerts = s.standing()
	h.HostSummary.Alerts = len(h.Alerts)
	return h, nil
}

// standing lists the paths the verifier has alerted on and not resolved,
// with the state of the last alert.
func (s *consoleSource) standing() []console.Alert {
	v := s.p.v
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]console.Alert, 0, len(v.alerted))
	for p, state := range v.alerted {
		a := console.Alert{Path: p, Action: state, Severity: alerts.SeverityAlert}
		switch {
		case p == "":
			a.Path, a.Severity = "(the baseline itself)", alerts.SeverityCritical
		case strings.HasPrefix(p, sealKey):
			a.Path, a.Action = "(trust decision)", strings.TrimPrefix(p, sealKey)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b console.Alert) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out
}

// consoleHandler returns the console for the listener at addr, nil when
// addr is not loopback: this host's weak spots are not served to the
// network without a credential (the fleet console has tokens).
func (p *pipeline) consoleHandler(addr string) (*console.Console, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !console.Loopback(host) {
		return nil, nil
	}
	return console.New(&consoleSource{p: p}, console.Options{})
}
