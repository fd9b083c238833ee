package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/internal/trusttest"
	"vigil/store"
)

// retry runs fn until it succeeds, for up to about ten seconds (a cluster
// electing a new leader after a node went away answers with errors for a
// moment): the bound is a deadline on a wait, not a timing.
func retry(t *testing.T, what string, fn func() error) {
	t.Helper()
	var err error
	for range 100 {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// TestClusterNodeRestart runs a host agent and a witness (Run, its own
// goroutine) against an embedded three-node JetStream cluster with R3
// buckets and streams, and kills one node during the run and starts it
// again: every update is decided on (the witness's record reaches the
// newest revision with the newest checkpoint cosigned), every fleet event
// is stored exactly once, and the host's alerts sent through the nats
// sink (each sent twice, as a redelivery after a crash would) are stored
// exactly once each.
func TestClusterNodeRestart(t *testing.T) {
	fimtest.Long(t, "a three-node JetStream cluster, one node killed and restarted")
	c := startCluster(t)
	conn := connect(t, c.urls()...)
	retry(t, "Init(3)", func() error { return conn.Init(t.Context(), 3) })
	f := newFleetHost(t, c.urls(), conn)
	decided := make(chan Record, 64)
	f.w.OnDecision = func(host string, rec Record, events []string) {
		if host == "test" && rec.State != "error" {
			decided <- rec
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- f.w.Run(ctx, time.Hour) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	sink := &alerts.NATSSink{URL: c.urls()[1] + "," + c.urls()[2], Timeout: 2 * time.Second}
	defer sink.Close()

	const rounds = 12
	wantEvents := map[string]int{}
	var last Record
	for i := range rounds {
		switch i {
		case 4:
			c.stop(0)
		case 8:
			c.start(t, 0)
		}
		if i%3 == 2 { // the log grows
			if err := os.WriteFile(f.h.Path(trusttest.Program), fmt.Appendf(nil, "ELF su %d", i), 0o4755); err != nil {
				t.Fatal(err)
			}
			f.h.Reseal(t, f.h.Key)
		}
		// Checks fail and pass in turn: a check_failing at each failure.
		check := &CheckSummary{Time: time.Now(), Method: "scan", ExitCode: (i % 2) * 4}
		if i%2 == 1 {
			wantEvents["check_failing"]++
		}
		retry(t, fmt.Sprintf("round %d: Publish", i), func() error {
			db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer db.Close()
			return f.agent.Publish(t.Context(), f.engine(t), db, check)
		})
		want := latest(t, conn, "test").Revision()
		for last.HostRevision < want {
			select {
			case last = <-decided:
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: no decision on revision %d within 30s (last %d)", i, want, last.HostRevision)
			}
		}
		ev := alerts.Notice("round", fmt.Sprint(i), "test", time.Now())
		ev.SetID(fmt.Sprintf("round-%d", i))
		raw, _ := json.Marshal(ev)
		for range 2 {
			retry(t, fmt.Sprintf("round %d: send", i), func() error {
				_, err := sink.Send(t.Context(), []*alerts.Event{&ev}, [][]byte{raw})
				return err
			})
		}
	}
	db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := db.Audit()
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The last round's check failed.
	if rec := f.record(t); rec.Size != tr.N || rec.State != StateCheckFailing {
		t.Errorf("final record: size %d state %q (%s), want %d and check_failing", rec.Size, rec.State, rec.Problem, tr.N)
	}
	got := map[string]int{}
	for _, a := range eventActions(fleetEvents(t, conn)) {
		got[a]++
	}
	if fmt.Sprint(got) != fmt.Sprint(wantEvents) {
		t.Errorf("fleet events %v, want %v", got, wantEvents)
	}
	s, err := conn.js.Stream(t.Context(), StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil || info.State.Msgs != rounds || info.Config.Replicas != 3 {
		t.Errorf("%s: %d messages, %d replicas (%v), want %d stored once each, R3", StreamEvents, info.State.Msgs, info.Config.Replicas, err, rounds)
	}
}
