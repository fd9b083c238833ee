package alerts

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs an embedded NATS server with JetStream on loopback.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func TestNATSSinkStoresEachEventOnce(t *testing.T) {
	ns := startNATS(t)
	ctx := context.Background()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "VIGIL", Subjects: []string{"vigil.events.>"}, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s := &NATSSink{URL: ns.ClientURL(), Timeout: 5 * time.Second}
	defer s.Close()
	var evs []*Event
	var data [][]byte
	for _, p := range []string{"/etc/a", "/etc/b", "/etc/c"} {
		ev := Resolved(p, "web-1.example", time.Now())
		ev.SetID("1:root")
		evs = append(evs, &ev)
		data = append(data, []byte(`{"path":"`+p+`"}`))
	}
	// Delivered, then delivered again (a redelivery after a crash between
	// the ack and the outbox's removal): stored once.
	for range 2 {
		if n, err := s.Send(ctx, evs, data); n != 3 || err != nil {
			t.Fatalf("Send = %d, %v; want 3 accepted", n, err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("stream holds %d messages, want 3 (Nats-Msg-Id = event.id deduplicates)", info.State.Msgs)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, "vigil.events.web-1_example")
	if err != nil {
		t.Fatalf("no message on vigil.events.web-1_example: %v", err)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != evs[2].Event.ID {
		t.Errorf("Nats-Msg-Id = %q, want event.id %q", got, evs[2].Event.ID)
	}
	// A server that is down refuses: nothing is accepted.
	ns.Shutdown()
	ns.WaitForShutdown()
	s.Timeout = 500 * time.Millisecond
	if n, err := s.Send(ctx, evs[:1], data[:1]); n != 0 || err == nil {
		t.Errorf("Send with the server down = %d, %v; want 0 and an error", n, err)
	}
}
