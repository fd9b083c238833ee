package fleet

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// HostStatus is one host's line of vigil fleet status.
type HostStatus struct {
	Host    string `json:"host"`
	Profile string `json:"profile,omitempty"`
	Phase   string `json:"phase,omitempty"`
	// Root is the current baseline's root hash; Sealed says it is signed.
	Root   string `json:"root,omitempty"`
	Sealed bool   `json:"sealed"`
	// Witnessed is the largest checkpoint size a witness cosigned (-1:
	// none), Witnesses the witnesses that decided on the host.
	Witnessed int64    `json:"witnessed_size"`
	Witnesses []string `json:"witnesses,omitempty"`
	// Heartbeat is the server's time of the host's newest entry;
	// HeartbeatAge is how old it is, in seconds.
	Heartbeat    time.Time `json:"heartbeat"`
	HeartbeatAge float64   `json:"heartbeat_age_seconds"`
	// State is the worst of the witnesses' states, silent when the
	// host's entry is older than SilentIntervals heartbeats, pending when
	// no witness decided on its newest entry yet.
	State   string `json:"state"`
	Problem string `json:"problem,omitempty"`
	Version string `json:"vigil_version,omitempty"`
	// EventSequence is the highest event sequence the host queued.
	EventSequence uint64 `json:"event_sequence,omitempty"`
	// PortableRoot is the host's portable root; Drift counts the entries
	// that differ from its profile's golden baseline (a witness with
	// fleet.golden_keys compares them).
	PortableRoot string `json:"portable_root,omitempty"`
	Drift        int    `json:"drift,omitempty"`
}

// OK reports whether the host's state is ok.
func (s HostStatus) OK() bool { return s.State == StateOK }

// severity orders states, worst first.
var severity = []string{StateRollback, StateFork, StateRecordDeleted, StateBadSignature, StateUnknownHost, StateSilent,
	StateUnsealed, StateEventsMissing, StateCheckFailing, StateDrifted, StatePending, StateOK}

// sticky are the states an update does not end before a witness decided
// on it.
var sticky = []string{StateRollback, StateFork, StateBadSignature, StateUnknownHost, StateRecordDeleted}

func worse(a, b string) bool {
	ia, ib := slices.Index(severity, a), slices.Index(severity, b)
	if ia < 0 {
		ia = 0
	}
	if ib < 0 {
		ib = 0
	}
	return ia < ib
}

// entries returns every live entry of bucket, in one watch.
func (c *Conn) entries(ctx context.Context, bucket string) ([]jetstream.KeyValueEntry, error) {
	kv, err := c.kv(ctx, bucket)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("the watch of " + bucket + " ended")
			}
			if e == nil {
				return out, nil
			}
			out = append(out, e)
		}
	}
}

// Status returns every host's status, by host name, as of now.
func (c *Conn) Status(ctx context.Context, now time.Time) ([]HostStatus, error) {
	hosts, err := c.entries(ctx, BucketHosts)
	if err != nil {
		return nil, err
	}
	wit, err := c.entries(ctx, BucketWitness)
	if err != nil {
		return nil, err
	}
	recs := map[string][]Record{}
	for _, e := range wit {
		var r Record
		if err := decode(BucketWitness, e.Key(), e.Value(), &r); err != nil {
			return nil, err
		}
		recs[r.Host] = append(recs[r.Host], r)
	}
	out := make([]HostStatus, 0, len(hosts))
	for _, e := range hosts {
		var st HostState
		if err := decode(BucketHosts, e.Key(), e.Value(), &st); err != nil {
			return nil, err
		}
		out = append(out, status(e, &st, recs[e.Key()], now))
	}
	slices.SortFunc(out, func(a, b HostStatus) int { return cmp.Compare(a.Host, b.Host) })
	return out, nil
}

// status joins a host's entry and the witnesses' records of it.
func status(e jetstream.KeyValueEntry, st *HostState, recs []Record, now time.Time) HostStatus {
	s := HostStatus{Host: e.Key(), Profile: st.Profile, Phase: st.Phase.Phase, Root: st.Root, Sealed: st.Statement != "",
		Witnessed: -1, Heartbeat: e.Created().UTC(), HeartbeatAge: now.Sub(e.Created()).Seconds(), State: StatePending,
		Version: st.Version, EventSequence: st.EventSequence, PortableRoot: st.PortableRoot}
	s.State = ""
	for _, r := range recs {
		s.Witnesses = append(s.Witnesses, r.Witness)
		if r.Checkpoint != "" && r.Size > s.Witnessed {
			s.Witnessed = r.Size
		}
		state := withDrift(r.State, r.Drift)
		if r.Drift > 0 {
			s.Drift = r.Drift
		}
		switch {
		case r.Silent:
			state = StateSilent
		case r.HostRevision < e.Revision() && !slices.Contains(sticky, state):
			state = StatePending // the newest entry is not decided on yet
		}
		if s.State == "" || worse(state, s.State) {
			s.State, s.Problem = state, r.Problem
		}
	}
	if s.State == "" {
		s.State = StatePending
	}
	hb := time.Duration(st.HeartbeatSeconds * float64(time.Second))
	if hb > 0 && now.Sub(e.Created()) > SilentIntervals*hb && worse(StateSilent, s.State) {
		s.State, s.Problem = StateSilent, "no update for more than three heartbeat intervals"
	}
	return s
}
