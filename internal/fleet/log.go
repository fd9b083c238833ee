package fleet

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LogEntry is one line of a host's witnessed history: an update the host
// published, or a witness's decision on one.
type LogEntry struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // "update" or "decision"
	Revision uint64    `json:"revision"`
	// An update: its checkpoint's size, the baseline, its root and
	// whether it is sealed, and the phase record.
	Size     int64      `json:"size"`
	Baseline uint64     `json:"baseline,omitempty"`
	Root     string     `json:"root,omitempty"`
	Sealed   bool       `json:"sealed,omitempty"`
	Phase    *PhaseInfo `json:"phase,omitempty"`
	// A decision: the witness, the update's revision it decided on, the
	// state and why.
	Witness      string `json:"witness,omitempty"`
	HostRevision uint64 `json:"host_revision,omitempty"`
	State        string `json:"state,omitempty"`
	Problem      string `json:"problem,omitempty"`
}

// Log returns host's history as the buckets keep it (their last 64
// revisions per key), oldest first.
func (c *Conn) Log(ctx context.Context, host string) ([]LogEntry, error) {
	hosts, err := c.kv(ctx, BucketHosts)
	if err != nil {
		return nil, err
	}
	hist, err := hosts.History(ctx, host)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []LogEntry
	for _, e := range hist {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var st HostState
		if err := decode(BucketHosts, host, e.Value(), &st); err != nil {
			return nil, err
		}
		cp, _ := parseCheckpoint(st.Checkpoint)
		out = append(out, LogEntry{Time: e.Created().UTC(), Kind: "update", Revision: e.Revision(), Size: int64(cp.Size),
			Baseline: st.Baseline, Root: st.Root, Sealed: st.Statement != "", Phase: &st.Phase})
	}
	recs, err := c.records(ctx, host)
	if err != nil {
		return nil, err
	}
	wit, err := c.kv(ctx, BucketWitness)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		hs, err := wit.History(ctx, host+"."+r.WitnessID)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, err
		}
		for _, e := range hs {
			var d Record
			if e.Operation() != jetstream.KeyValuePut || decode(BucketWitness, e.Key(), e.Value(), &d) != nil {
				continue
			}
			out = append(out, LogEntry{Time: e.Created().UTC(), Kind: "decision", Revision: e.Revision(), Size: d.Size,
				Witness: d.Witness, HostRevision: d.HostRevision, State: d.State, Problem: d.Problem})
		}
	}
	slices.SortStableFunc(out, func(a, b LogEntry) int { return a.Time.Compare(b.Time) })
	return out, nil
}
