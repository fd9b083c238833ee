package fleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/store"
)

func TestSequencesGap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seen     []uint64
		from, to uint64
		ok       bool
	}{
		{"none", nil, 0, 0, false},
		{"in order", []uint64{1, 2, 3}, 0, 0, false},
		{"out of order, complete", []uint64{2, 1, 3}, 0, 0, false},
		{"a hole", []uint64{1, 2, 5, 6}, 3, 4, true},
		{"the first missing", []uint64{3}, 1, 2, true},
		{"two holes: the lowest", []uint64{1, 3, 6}, 2, 2, true},
		{"repeats", []uint64{1, 1, 2, 2}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sequences
			for _, n := range tc.seen {
				s.add(n)
			}
			from, to, ok := s.gap()
			if from != tc.from || to != tc.to || ok != tc.ok {
				t.Errorf("gap after %v = %d, %d, %v; want %d, %d, %v", tc.seen, from, to, ok, tc.from, tc.to, tc.ok)
			}
		})
	}
}

// TestWitnessEventsMissing: events deleted from a host's outbox (4 and 5
// never reach the stream, 6 and 7 do) are events_missing once the hole
// outlasts a heartbeat, and the state clears when they arrive; a host
// whose nats sink is filtered has holes by design and is not judged.
func TestWitnessEventsMissing(t *testing.T) {
	ns := startNATS(t)
	c := connect(t, ns.ClientURL())
	if err := c.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	f := newFleetHost(t, []string{ns.ClientURL()}, c)
	decided := make(chan Record, 16)
	f.w.OnDecision = func(host string, rec Record, _ []string) {
		if host == "test" {
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
	send := func(seqs ...uint64) {
		for _, n := range seqs {
			m := nats.NewMsg("vigil.events.test")
			m.Data = fmt.Appendf(nil, `{"host":{"name":"test"},"event":{"action":"x","sequence":%d}}`, n)
			m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint("test-", n))
			if _, err := c.js.PublishMsg(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitObserved := func(n int) {
		for range 500 {
			if f.w.Observed() >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("the witness read %d events, want %d", f.w.Observed(), n)
	}
	complete := false // a filtered nats sink: holes are by design
	beat := func() Record {
		t.Helper()
		db, err := store.Open(f.h.DB, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		f.agent.Sequence, f.agent.EventsComplete = func() uint64 { return 7 }, complete
		err = f.agent.Publish(t.Context(), f.engine(t), db, nil)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := latest(t, c, "test").Revision()
		for {
			select {
			case r := <-decided:
				if r.HostRevision >= want {
					return r
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no decision on revision %d", want)
			}
		}
	}
	send(1, 2, 3, 6, 7)
	waitObserved(5)
	for range 2 {
		if r := beat(); r.State != StateOK || r.Gap != 0 {
			t.Errorf("a host whose nats sink is filtered: %s gap %d, want ok (a hole is no loss there)", r.State, r.Gap)
		}
	}
	complete = true
	var got []string
	for range 3 {
		r := beat()
		got = append(got, fmt.Sprintf("%s gap %d", r.State, r.Gap))
	}
	send(4, 5)
	waitObserved(7)
	r := beat()
	got = append(got, fmt.Sprintf("%s gap %d", r.State, r.Gap))
	want := []string{"ok gap 4", "events_missing gap 4", "events_missing gap 4", "ok gap 0"}
	if !cmp.Equal(got, want) {
		t.Errorf("decisions = %q, want %q", got, want)
	}
	if got, want := eventActions(fleetEvents(t, c)), []string{"events_missing"}; !cmp.Equal(got, want) {
		t.Errorf("fleet events = %q, want %q", got, want)
	}
}
