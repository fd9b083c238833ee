package fleet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	tlogfmt "github.com/transparency-dev/formats/log"
	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/merkle"
	"vigil/store"
)

// Agent is one host's side of the fleet: it publishes the host's state to
// vigil_hosts and, as the engine's [engine.Witness], reads the checkpoint
// the witnesses cosigned. It connects on first use and keeps the
// connection until Close.
type Agent struct {
	cfg       config.Fleet
	host      string
	version   string
	verifiers note.Verifiers // the witnesses' cosignature/v1 verifiers
	names     []string
	quorum    int
	// Sequence, if set, returns the highest event sequence the host
	// queued (the daemon's outbox); nil publishes 0, unknown.
	Sequence func() uint64
	// EventsComplete says every event queued goes to the events stream
	// (see HostState.EventsComplete).
	EventsComplete bool

	mu   sync.Mutex
	conn *Conn
	// down is the last failure to connect, at downAt: for retryAfter
	// the agent does not try again, so that one command waits for an
	// unreachable fleet once, not at every step.
	down   error
	downAt time.Time
}

// retryAfter is how long a failure to connect is remembered.
const retryAfter = 30 * time.Second

// NewAgent returns the agent of host (f.Host when set) for f; version is
// vigil's, published with the state.
func NewAgent(f config.Fleet, host, version string) (*Agent, error) {
	a := &Agent{cfg: f, host: host, version: version, quorum: f.QuorumOf()}
	if f.Host != "" {
		a.host = f.Host
	}
	if a.host == "" {
		a.host, _ = os.Hostname()
	}
	var vs []note.Verifier
	for _, k := range f.Witnesses {
		v, err := cosig.NewVerifierForCosignatureV1(k)
		if err != nil {
			return nil, fmt.Errorf("fleet.witnesses: %q: %w", k, err)
		}
		vs = append(vs, v)
		a.names = append(a.names, v.Name())
	}
	a.verifiers = note.VerifierList(vs...)
	return a, nil
}

// Host returns the host's name in the fleet.
func (a *Agent) Host() string { return a.host }

// connect returns the agent's connection, connecting within ctx.
func (a *Agent) connect(ctx context.Context) (*Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		return a.conn, nil
	}
	if a.down != nil && time.Since(a.downAt) < retryAfter {
		return nil, a.down
	}
	c, err := Connect(ctx, a.cfg, "vigil "+a.host)
	if err != nil {
		a.down, a.downAt = err, time.Now()
		return nil, err
	}
	a.conn = c
	return c, nil
}

// SetConn makes the agent use c (tests, a daemon's shared connection).
func (a *Agent) SetConn(c *Conn) {
	a.mu.Lock()
	a.conn = c
	a.mu.Unlock()
}

// Close closes the agent's connection.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		a.conn.Close()
		a.conn = nil
	}
}

// Witnessed implements [engine.Witness]: the newest checkpoint of the
// host that a quorum of the configured witness keys cosigned.
func (a *Agent) Witnessed(ctx context.Context) (engine.Witnessed, error) {
	if a.quorum == 0 {
		return engine.Witnessed{}, engine.ErrNotWitnessed
	}
	c, err := a.connect(ctx)
	if err != nil {
		return engine.Witnessed{}, err
	}
	recs, err := c.records(ctx, a.host)
	if err != nil {
		return engine.Witnessed{}, err
	}
	return a.quorumOf(recs)
}

// quorumOf returns the largest checkpoint in recs that quorum of the
// configured witnesses cosigned.
func (a *Agent) quorumOf(recs []Record) (engine.Witnessed, error) {
	type point struct {
		size int64
		hash string
	}
	by := map[point][]string{}
	for _, r := range recs {
		if r.Checkpoint == "" {
			continue
		}
		n, err := note.Open([]byte(r.Checkpoint), a.verifiers)
		if err != nil {
			continue // not cosigned by a key this host trusts
		}
		cp, err := parseCheckpoint(n.Text)
		if err != nil {
			continue
		}
		p := point{int64(cp.Size), string(cp.Hash)}
		for _, s := range n.Sigs {
			if !slices.Contains(by[p], s.Name) {
				by[p] = append(by[p], s.Name)
			}
		}
	}
	best := engine.Witnessed{Size: -1}
	for p, names := range by {
		if len(names) >= a.quorum && p.size > best.Size {
			slices.Sort(names)
			best = engine.Witnessed{Size: p.size, Hash: []byte(p.hash), By: names}
		}
	}
	if best.Size < 0 {
		return engine.Witnessed{}, engine.ErrNotWitnessed
	}
	return best, nil
}

// records returns every witness's record of host.
func (c *Conn) records(ctx context.Context, host string) ([]Record, error) {
	kv, err := c.kv(ctx, BucketWitness)
	if err != nil {
		return nil, err
	}
	w, err := kv.Watch(ctx, host+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []Record
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil {
				return out, nil
			}
			var r Record
			if err := decode(BucketWitness, e.Key(), e.Value(), &r); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
}

// Publish publishes the host's state after an operation that added to
// its audit log, or at a heartbeat: the trust decision on db (which also
// asks the fleet), the audit log's checkpoint with proofs from the sizes
// the witnesses and the last entry hold, the current baseline's statement,
// the phase, check (nil keeps the last one published) and the event
// sequence. The write is revision-checked.
func (a *Agent) Publish(ctx context.Context, eng *engine.Engine, db *store.DB, check *CheckSummary) error {
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	v, err := eng.Trust(db)
	if err != nil {
		return err
	}
	st := HostState{Host: a.host, Profile: a.cfg.Profile, Version: a.version, Time: time.Now().UTC(),
		HeartbeatSeconds: a.cfg.Heartbeat().Seconds(), LastCheck: check,
		Phase: PhaseInfo{Phase: v.Phase.Phase, Since: v.Phase.Since, Record: v.Phase.Record, Signed: v.Phase.Record >= 0}}
	for _, f := range v.Findings {
		if f.Critical {
			st.Trust = append(st.Trust, f.Action)
		}
	}
	if v.Untrusted != nil {
		st.Trust = append(st.Trust, "untrusted")
	}
	if a.Sequence != nil {
		st.EventSequence, st.EventsComplete = a.Sequence(), a.EventsComplete
	}
	if pins, file := eng.Pinned(); pins != nil {
		if raw, err := os.ReadFile(file); err == nil {
			st.Pubkey = strings.TrimSpace(string(raw))
		}
	}
	if err := a.describe(db, "vigil/"+eng.Host(), &st); err != nil {
		return err
	}
	// The portable tree's manifests first: the state names its root only
	// once the fleet holds it, so that a diff never finds a node missing.
	pr, err := uploadTree(ctx, c, db, a.cfg.HostSpecificPaths())
	if err != nil {
		return fmt.Errorf("uploading the portable tree: %w", err)
	}
	if pr != (merkle.Hash{}) {
		st.PortableRoot = hex.EncodeToString(pr[:])
	}
	return a.put(ctx, c, db, &st)
}

// describe fills in the checkpoint (of origin, as the engine keeps it) and
// the current baseline.
func (a *Agent) describe(db *store.DB, origin string, st *HostState) error {
	t, err := db.Audit()
	if err != nil {
		return err
	}
	cp := tlogfmt.Checkpoint{Origin: origin, Size: uint64(t.N), Hash: t.Hash[:]}
	st.Checkpoint = string(cp.Marshal())
	if signed, err := db.Checkpoint(); err == nil && len(signed) > 0 {
		body, _, _ := bytes.Cut(signed, []byte("\n\n"))
		if string(body)+"\n" == st.Checkpoint {
			st.Checkpoint = string(signed)
		}
	}
	cur, err := db.Current()
	if err != nil && !errors.Is(err, store.ErrNoBaseline) {
		return err
	}
	if err == nil {
		in := cur.Info()
		st.Baseline, st.Root, st.Statement = in.ID, hex.EncodeToString(in.Root[:]), string(in.Signature)
	}
	return nil
}

// put writes st with proofs from the sizes already seen, revision-checked:
// a concurrent writer makes it read again and redo the proofs.
func (a *Agent) put(ctx context.Context, c *Conn, db *store.DB, st *HostState) error {
	kv, err := c.kv(ctx, BucketHosts)
	if err != nil {
		return err
	}
	recs, err := c.records(ctx, a.host)
	if err != nil {
		return err
	}
	cp, err := parseCheckpoint(st.Checkpoint)
	if err != nil {
		return err
	}
	for range 5 {
		prev, rev, err := c.hostState(ctx, kv, a.host)
		if err != nil {
			return err
		}
		sizes := []int64{}
		for _, r := range recs {
			sizes = append(sizes, r.Size)
		}
		if prev != nil {
			if pc, err := parseCheckpoint(prev.Checkpoint); err == nil {
				sizes = append(sizes, int64(pc.Size))
			}
			if st.LastCheck == nil {
				st.LastCheck = prev.LastCheck
			}
		}
		st.Proofs = proofs(db, sizes, int64(cp.Size))
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, a.host, raw)
		} else {
			_, err = kv.Update(ctx, a.host, raw, rev)
		}
		if !conflict(err) {
			return err
		}
	}
	return fmt.Errorf("%s/%s: %w", BucketHosts, a.host, ErrConflict)
}

// hostState reads host's entry: nil and revision 0 when there is none.
func (c *Conn) hostState(ctx context.Context, kv jetstream.KeyValue, host string) (*HostState, uint64, error) {
	e, err := kv.Get(ctx, host)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var st HostState
	if err := decode(BucketHosts, host, e.Value(), &st); err != nil {
		return nil, 0, err
	}
	return &st, e.Revision(), nil
}

// proofs returns consistency proofs from each distinct size in from that
// lies below n (a size the log does not reach has none: the witness calls
// that a rollback).
func proofs(db *store.DB, from []int64, n int64) []Proof {
	slices.Sort(from)
	var out []Proof
	for _, m := range slices.Compact(from) {
		if m <= 0 || m >= n {
			continue
		}
		p, err := db.ProveAudit(m, n)
		if err != nil {
			continue
		}
		hs := make([][]byte, len(p))
		for i := range p {
			hs[i] = p[i][:]
		}
		out = append(out, Proof{From: m, Hashes: hs})
	}
	return out
}

// parseCheckpoint parses a checkpoint's text, or a signed note of one.
func parseCheckpoint(s string) (tlogfmt.Checkpoint, error) {
	var cp tlogfmt.Checkpoint
	body, _, signed := strings.Cut(s, "\n\n")
	if signed {
		body += "\n"
	}
	if _, err := cp.Unmarshal([]byte(body)); err != nil {
		return cp, fmt.Errorf("%w: checkpoint: %w", ErrState, err)
	}
	return cp, nil
}
