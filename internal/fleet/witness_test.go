package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/trusttest"
	"vigil/store"
)

// fleetHost is a sealed host (trusttest) with a fleet agent as its
// engine's witness, and a witness, on one JetStream.
type fleetHost struct {
	h     *trusttest.Host
	agent *Agent
	w     *Witness
	conn  *Conn
	cfg   config.Fleet
}

func newFleetHost(t *testing.T, urls []string, c *Conn) *fleetHost {
	t.Helper()
	ctx := t.Context()
	skey, vkey := witnessKey(t, "witness1")
	h := trusttest.NewHost(t)
	pub, err := os.ReadFile(h.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Enroll(ctx, "test", string(pub), false); err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	f := config.Fleet{URLs: urls, Host: "test", Profile: "hv", HeartbeatInterval: time.Minute, Witnesses: []string{vkey}}
	a, err := NewAgent(f, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	w, err := NewWitness(c, skey, false)
	if err != nil {
		t.Fatal(err)
	}
	return &fleetHost{h: h, agent: a, w: w, conn: c, cfg: f}
}

// engine returns the host's engine with the agent as its witness.
func (f *fleetHost) engine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.New(f.h.Config, engine.Settings{Host: "test", Witness: f.agent})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// publish publishes the host's state and has the witness decide on it.
func (f *fleetHost) publish(t *testing.T) Record {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := f.agent.Publish(ctx, f.engine(t), db, nil); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := f.w.Decide(ctx, latest(t, f.conn, "test")); err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return f.record(t)
}

func (f *fleetHost) record(t *testing.T) Record {
	t.Helper()
	kv, err := f.conn.kv(t.Context(), BucketWitness)
	if err != nil {
		t.Fatal(err)
	}
	r, _, _, err := f.w.record(t.Context(), kv, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trust takes the host's trust decision with the fleet.
func (f *fleetHost) trust(t *testing.T) engine.Verdict {
	t.Helper()
	db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := f.engine(t).Trust(db)
	if err != nil {
		t.Fatalf("Trust: %v", err)
	}
	return v
}

// TestWitnessRollbacks runs the red team's rollbacks against a witnessed
// host: each is a rollback in the fleet (an event, the record's state) and
// an untrusted database (ErrRollback: exit 8 in check) on the host, also
// with the kept checkpoint deleted; two databases of one host publishing
// are a fork.
func TestWitnessRollbacks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		attack func(t *testing.T, f *fleetHost)
		state  string
	}{
		{"database put back, kept checkpoint deleted", func(t *testing.T, f *fleetHost) {
			if err := os.WriteFile(f.h.DB, f.h.Backup, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(engine.CheckpointPath(f.h.DB)); err != nil {
				t.Fatal(err)
			}
		}, StateRollback},
		{"database put back, kept checkpoint rewritten to match", func(t *testing.T, f *fleetHost) {
			if err := os.WriteFile(f.h.DB, f.h.Backup, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(f.h.DB, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := os.Remove(engine.CheckpointPath(f.h.DB)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.h.Engine(t).KeepCheckpoint(db, nil); err != nil {
				t.Fatal(err)
			}
		}, StateRollback},
		{"the log rewritten past the witnessed size", func(t *testing.T, f *fleetHost) {
			if err := os.WriteFile(f.h.DB, f.h.Backup, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(engine.CheckpointPath(f.h.DB)); err != nil {
				t.Fatal(err)
			}
			for _, content := range []string{"ELF a", "ELF b"} {
				if err := os.WriteFile(f.h.Path(trusttest.Program), []byte(content), 0o4755); err != nil {
					t.Fatal(err)
				}
				f.h.Reseal(t, f.h.Key)
			}
		}, StateRollback},
		{"a second database of the host (fork)", func(t *testing.T, f *fleetHost) {
			if err := os.WriteFile(f.h.DB, f.h.Backup, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(engine.CheckpointPath(f.h.DB)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.h.Path(trusttest.Program), []byte("ELF other"), 0o4755); err != nil {
				t.Fatal(err)
			}
			f.h.Reseal(t, f.h.Key)
		}, StateFork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := startNATS(t)
			c := connect(t, ns.ClientURL())
			if err := c.Init(t.Context(), 1); err != nil {
				t.Fatalf("Init: %v", err)
			}
			f := newFleetHost(t, []string{ns.ClientURL()}, c)
			r0 := f.publish(t)
			if r0.State != StateOK || r0.Size == 0 {
				t.Fatalf("first decision: state %q size %d (%s), want ok and a cosigned checkpoint", r0.State, r0.Size, r0.Problem)
			}
			if err := os.WriteFile(f.h.Path(trusttest.Program), []byte("ELF su 2"), 0o4755); err != nil {
				t.Fatal(err)
			}
			f.h.Reseal(t, f.h.Key)
			r1 := f.publish(t)
			if r1.State != StateOK || r1.Size <= r0.Size {
				t.Fatalf("after a reseal: state %q size %d (%s), want ok and a size above %d", r1.State, r1.Size, r1.Problem, r0.Size)
			}
			if v := f.trust(t); v.Untrusted != nil || v.Witnessed != r1.Size {
				t.Fatalf("Trust before the attack: untrusted %v, witnessed %d; want trusted, %d", v.Untrusted, v.Witnessed, r1.Size)
			}
			tc.attack(t, f)
			v := f.trust(t)
			if !errors.Is(v.Untrusted, engine.ErrRollback) {
				t.Errorf("Trust after the attack: Untrusted = %v, want ErrRollback", v.Untrusted)
			}
			r2 := f.publish(t)
			if r2.State != tc.state || r2.Size != r1.Size {
				t.Errorf("decision after the attack: state %q size %d (%s), want %q and the witnessed size %d kept", r2.State, r2.Size, r2.Problem, tc.state, r1.Size)
			}
			f.publish(t) // a heartbeat of the same state: no second event
			if got, want := eventActions(fleetEvents(t, c)), []string{tc.state}; !cmp.Equal(got, want) {
				t.Errorf("fleet events = %q, want %q", got, want)
			}
		})
	}
}

// TestWitnessSilentAndChanges: a host that stops publishing is host_silent
// once after three intervals (a moved clock, not a sleep), resolved when
// it publishes again; a failing check and an unknown host are events.
func TestWitnessSilentAndChanges(t *testing.T) {
	ns := startNATS(t)
	c := connect(t, ns.ClientURL())
	if err := c.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	f := newFleetHost(t, []string{ns.ClientURL()}, c)
	var offset time.Duration
	f.w.Now = func() time.Time { return time.Now().Add(offset) }
	f.publish(t)
	if err := f.w.CheckSilent(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := f.record(t); r.Silent {
		t.Fatalf("silent right after an update")
	}
	offset = SilentIntervals*time.Minute + time.Second
	for range 2 {
		if err := f.w.CheckSilent(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.record(t); !r.Silent {
		t.Fatalf("not silent after %v", offset)
	}
	offset = 0
	// A failing check, published with the next update.
	db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = f.agent.Publish(t.Context(), f.engine(t), db, &CheckSummary{Time: time.Now(), Method: "scan", ExitCode: 4, Changed: 1})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.w.Decide(t.Context(), latest(t, c, "test")); err != nil {
		t.Fatal(err)
	}
	if r := f.record(t); r.Silent || r.State != StateCheckFailing {
		t.Errorf("after the update: silent %v, state %q; want false, check_failing", r.Silent, r.State)
	}
	want := []string{"host_silent", "resolved", "check_failing"}
	if got := eventActions(fleetEvents(t, c)); !cmp.Equal(got, want) {
		t.Errorf("fleet events = %q, want %q", got, want)
	}
	// An unknown host is refused, not cosigned.
	other := HostState{Host: "intruder", Checkpoint: "vigil/intruder\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", HeartbeatSeconds: 60}
	kv, _ := c.kv(t.Context(), BucketHosts)
	raw := fmt.Appendf(nil, `{"host":%q,"checkpoint":%q,"heartbeat_seconds":60,"phase":{"phase":"setup"}}`, other.Host, other.Checkpoint)
	if _, err := kv.Create(t.Context(), "intruder", raw); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Decide(t.Context(), latest(t, c, "intruder")); err != nil {
		t.Fatal(err)
	}
	wk, _ := c.kv(t.Context(), BucketWitness)
	r, _, _, err := f.w.record(t.Context(), wk, "intruder")
	if err != nil || r.State != StateUnknownHost || r.Checkpoint != "" {
		t.Errorf("unknown host: state %q, cosigned %q, err %v; want unknown_host, nothing cosigned", r.State, r.Checkpoint, err)
	}
	if got := eventActions(fleetEvents(t, c)); !slices.Contains(got, "unknown_host") {
		t.Errorf("fleet events = %q, want an unknown_host", got)
	}
}

// TestWitnessedUnreachable: a fleet out of reach is a warning finding and
// the local checkpoint decides, within the engine's bound.
func TestWitnessedUnreachable(t *testing.T) {
	h := trusttest.NewHost(t)
	_, vkey := witnessKey(t, "w")
	a, err := NewAgent(config.Fleet{URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))}, Witnesses: []string{vkey}}, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e, err := engine.New(h.Config, engine.Settings{Host: "test", Witness: a})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), engine.WitnessTimeout)
	defer cancel()
	_, werr := a.Witnessed(ctx)
	v, err := e.Trust(db)
	if err != nil || v.Untrusted != nil {
		t.Fatalf("Trust = %v, untrusted %v; want a trusted verdict", err, v.Untrusted)
	}
	var got []string
	for _, f := range v.Findings {
		got = append(got, fmt.Sprintf("%s critical=%v", f.Action, f.Critical))
	}
	if want := []string{"fleet_unreachable critical=false"}; !cmp.Equal(got, want) || werr == nil {
		t.Errorf("findings = %q (Witnessed: %v), want %q and an error", got, werr, want)
	}
}

// TestQuorum: a host's witnessed checkpoint needs fleet.quorum of the
// listed witness keys; a cosignature by a key the host does not list
// never counts.
func TestQuorum(t *testing.T) {
	ns := startNATS(t)
	c := connect(t, ns.ClientURL())
	if err := c.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	f := newFleetHost(t, []string{ns.ClientURL()}, c) // its witness: witness1, listed
	skey2, vkey2 := witnessKey(t, "witness2")
	w2, err := NewWitness(c, skey2, false)
	if err != nil {
		t.Fatal(err)
	}
	skey3, _ := witnessKey(t, "stranger")
	w3, err := NewWitness(c, skey3, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.Witnesses, cfg.Quorum = append(cfg.Witnesses, vkey2), 2
	a, err := NewAgent(cfg, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f.agent = a
	witnessed := func() string {
		w, err := a.Witnessed(t.Context())
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("size %d by %v", w.Size, w.By)
	}
	rec := f.publish(t) // witness1 decides
	if err := w3.Decide(t.Context(), latest(t, c, "test")); err != nil {
		t.Fatal(err)
	}
	var got []string
	got = append(got, witnessed())
	if err := w2.Decide(t.Context(), latest(t, c, "test")); err != nil {
		t.Fatal(err)
	}
	got = append(got, witnessed())
	want := []string{engine.ErrNotWitnessed.Error(), fmt.Sprintf("size %d by [witness1 witness2]", rec.Size)}
	if !cmp.Equal(got, want) {
		t.Errorf("Witnessed with quorum 2 = %q, want %q", got, want)
	}
}

// TestRecordDeleted: a witness's record deleted behind its back (a host
// whose NATS user may write vigil_witness) is a critical record_deleted;
// deleted, the history still holds the cosigned checkpoint and a rollback
// is still caught; purged, nothing is cosigned until vigil fleet forget,
// after which the host starts over.
func TestRecordDeleted(t *testing.T) {
	ns := startNATS(t)
	c := connect(t, ns.ClientURL())
	if err := c.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	f := newFleetHost(t, []string{ns.ClientURL()}, c)
	r0 := f.publish(t)
	if err := os.WriteFile(f.h.Path(trusttest.Program), []byte("ELF su 2"), 0o4755); err != nil {
		t.Fatal(err)
	}
	f.h.Reseal(t, f.h.Key)
	r1 := f.publish(t)
	kv, err := c.kv(t.Context(), BucketWitness)
	if err != nil {
		t.Fatal(err)
	}
	// Deleted, the database put back: still a rollback against the
	// history's checkpoint.
	if err := kv.Delete(t.Context(), f.w.recordKey("test")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.h.DB, f.h.Backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(engine.CheckpointPath(f.h.DB)); err != nil {
		t.Fatal(err)
	}
	var got []string
	r := f.publish(t)
	got = append(got, fmt.Sprintf("%s %d", r.State, r.Size))
	// Purged: nothing to compare with, nothing cosigned.
	if err := kv.Purge(t.Context(), f.w.recordKey("test")); err != nil {
		t.Fatal(err)
	}
	r = f.publish(t)
	got = append(got, fmt.Sprintf("%s %d", r.State, r.Size))
	r = f.publish(t)
	got = append(got, fmt.Sprintf("%s %d", r.State, r.Size))
	if err := c.Forget(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	r = f.publish(t)
	got = append(got, fmt.Sprintf("%s %d", r.State, r.Size))
	want := []string{fmt.Sprintf("rollback %d", r1.Size), "record_deleted 0", "record_deleted 0", fmt.Sprintf("ok %d", r0.Size)}
	if !cmp.Equal(got, want) {
		t.Errorf("decisions = %q, want %q", got, want)
	}
	wantEv := []string{"rollback", "record_deleted", "record_deleted"}
	if got := eventActions(fleetEvents(t, c)); !cmp.Equal(got, wantEv) {
		t.Errorf("fleet events = %q, want %q", got, wantEv)
	}
}
