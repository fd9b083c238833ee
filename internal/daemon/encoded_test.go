package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"vigil/alerts"
	"vigil/store"
)

// TestPublishEncodedIsWhatIsQueued: the JSON PublishEncoded hands on (what
// the delivery stage saves as the standing alerts) is, byte for byte, what
// the outbox queued, event.sequence included; an event queued for no sink
// is not handed on. And a sink that sends bytes only ([alerts.DataSender])
// gets the queued bytes as they are.
func TestPublishEncodedIsWhatIsQueued(t *testing.T) {
	ob, err := store.OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	var out bytes.Buffer
	d := &alerts.Dispatcher{Outbox: outbox{Outbox: ob}, Host: "h", Routes: []alerts.Route{
		{Name: "0-stdout", Sink: &alerts.WriterSink{W: &out}, Filter: alerts.Filter{MinSeverity: alerts.SeverityWarning}},
	}}
	now := time.Now()
	evs := []alerts.Event{alerts.Resolved("/r/a", "h", now), alerts.Resolved("/r/b", "h", now), alerts.Resolved("/r/c", "h", now)}
	for i := range evs {
		evs[i].Event.Severity = alerts.SeverityAlert
		evs[i].SetID("scope")
	}
	evs[1].Event.Severity = alerts.SeverityInfo // below the sink's minimum: queued for none
	// Twice: the second round's sequence numbers follow the first's.
	var data [][]byte
	for round := range 2 {
		got := map[int][]byte{}
		if err := d.PublishEncoded(func(i int, b []byte) { got[i] = b }, evs...); err != nil {
			t.Fatal(err)
		}
		seqs, queued, err := ob.Pending("0-stdout", 10)
		if err != nil {
			t.Fatal(err)
		}
		queued, seqs = queued[2*round:], seqs[2*round:]
		if len(got) != 2 || len(queued) != 2 || got[1] != nil {
			t.Fatalf("round %d: handed on %d events (the second: %q), %d queued; want the first and the third", round, len(got), got[1], len(queued))
		}
		for k, i := range []int{0, 2} {
			ev := evs[i]
			ev.Event.Sequence = seqs[k]
			want, err := json.Marshal(&ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[i], queued[k]) || !bytes.Equal(queued[k], want) {
				t.Errorf("round %d, event %d: handed on\n%s\nqueued\n%s\nwant (seq %d)\n%s", round, i, got[i], queued[k], seqs[k], want)
			}
		}
		data = append(data, queued...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, err := ob.Depth("0-stdout"); err == nil && n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	if want := string(bytes.Join(data, []byte("\n"))) + "\n"; out.String() != want {
		t.Errorf("the stdout sink wrote\n%s\nwant the queued bytes\n%s", out.String(), want)
	}
}
