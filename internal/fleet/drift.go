package fleet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/merkle"
)

// StateDrifted: the host's portable root differs from its profile's golden
// baseline (Drift entries).
const StateDrifted = "drifted"

// DiffRoots compares two portable trees by descent over the manifests in
// vigil_nodes (fetching only nodes whose hashes differ) and hands each
// differing entry to emit. The Nodes it read through says what it cost.
func (c *Conn) DiffRoots(ctx context.Context, a, b merkle.Hash, emit func(merkle.Change) error) (*Nodes, error) {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	return nodes, merkle.DiffManifests(nodes, nodes, a, b, emit)
}

// Drift counts the entries where host root differs from golden.
func (c *Conn) Drift(ctx context.Context, root, golden merkle.Hash) (int, error) {
	n := 0
	_, err := c.DiffRoots(ctx, golden, root, func(merkle.Change) error { n++; return nil })
	return n, err
}

// SetGoldenKeys makes the witness compare every host it decides on with its
// profile's golden baseline (signed by one of keys) and raise drifted and
// resolved.
func (w *Witness) SetGoldenKeys(keys []string) error {
	vs, err := GoldenVerifiers(keys)
	if err != nil {
		return err
	}
	w.golden = vs
	return nil
}

// drift compares st with its profile's golden baseline: the record's
// Drift (-1: no golden, or no portable root) and the events of a change.
func (w *Witness) drift(ctx context.Context, st *HostState, rec, next *Record) []event {
	next.Drift, next.DriftRoot = -1, ""
	if w.golden == nil || st.Profile == "" || st.PortableRoot == "" {
		return nil
	}
	g, err := w.conn.Golden(ctx, st.Profile, w.golden)
	if errors.Is(err, ErrNoGolden) {
		return nil
	}
	var evs []event
	if err != nil {
		return []event{{"golden_invalid", alerts.SeverityCritical, err.Error()}}
	}
	root, err1 := hex.DecodeString(st.PortableRoot)
	gr, err2 := g.GoldenRoot()
	if err1 != nil || err2 != nil || len(root) != len(gr) {
		return nil
	}
	n := rec.Drift
	if rec.DriftRoot != st.PortableRoot || rec.GoldenRevision != g.Revision {
		// A heartbeat repeats the root it published: compared once per
		// root and golden, not at every decision.
		w.drifts.Add(1)
		if n, err = w.conn.Drift(ctx, merkle.Hash(root), gr); err != nil {
			next.Problem = fmt.Sprintf("drift from golden: %v", err)
			return nil
		}
	}
	next.Drift, next.DriftRoot, next.GoldenRevision = n, st.PortableRoot, g.Revision
	switch {
	case n > 0 && (rec.Drift <= 0 || rec.DriftRoot != st.PortableRoot || rec.GoldenRevision != g.Revision):
		evs = append(evs, event{"drifted", alerts.SeverityAlert,
			fmt.Sprintf("%d entries differ from the golden baseline of profile %q (promoted from %s, revision %d)", n, st.Profile, g.Host, g.Revision)})
	case n == 0 && rec.Drift > 0:
		evs = append(evs, event{"resolved", alerts.SeverityInfo,
			fmt.Sprintf("no more drift from the golden baseline of profile %q", st.Profile)})
	}
	return evs
}

// withDrift is the state of a record with drift, where nothing worse
// stands.
func withDrift(state string, drift int) string {
	if drift > 0 && state == StateOK {
		return StateDrifted
	}
	return state
}

// goldenVerifiers is a witness's golden verifiers (nil: no drift).
type goldenVerifiers = note.Verifiers
