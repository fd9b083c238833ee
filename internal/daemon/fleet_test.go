package daemon

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/internal/trusttest"
	"vigil/store"
)

// TestFleetRollback: the daemon's trust decision goes through the fleet's
// witness (Options.Witness) as check's does: a database put back with its
// kept checkpoint deleted, which the host's own files alone report as a
// missing checkpoint and then compare with, is a critical rollback (beside
// the missing checkpoint) and nothing compared once the witnesses cosigned
// the newer log.
func TestFleetRollback(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fleet.NewConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := t.Context()
	if err := conn.Init(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h := trusttest.NewHost(t)
	pub, err := os.ReadFile(h.Pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Enroll(ctx, "test", string(pub), false); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(nil, "witness")
	if err != nil {
		t.Fatal(err)
	}
	w, err := fleet.NewWitness(conn, skey, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := fleet.NewAgent(config.Fleet{URLs: []string{ns.ClientURL()}, Host: "test", Witnesses: []string{vkey}}, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	publish := func() {
		t.Helper()
		eng, err := engine.New(h.Config, engine.Settings{Host: "test", Witness: a})
		if err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(h.DB, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := a.Publish(ctx, eng, db, nil); err != nil {
			t.Fatal(err)
		}
		kv, err := conn.JetStream().KeyValue(ctx, fleet.BucketHosts)
		if err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Decide(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	if err := os.WriteFile(h.Path(trusttest.Program), []byte("ELF su 2"), 0o4755); err != nil {
		t.Fatal(err)
	}
	h.Reseal(t, h.Key)
	publish()
	if err := os.WriteFile(h.DB, h.Backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(engine.CheckpointPath(h.DB)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		witness  engine.Witness
		critical []string
		changes  bool
	}{
		{"without the fleet", nil, []string{"checkpoint_missing"}, true},
		{"with the fleet", a, []string{"rollback", "checkpoint_missing"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &verifier{dbPath: h.DB, host: "test", log: zerolog.Nop(), alerted: map[string]string{},
				resolved: map[string]int{}, dirty: map[string]bool{}, stats: newStats(), witness: tc.witness}
			evs, err := v.run(ctx, h.Config, job{whole: true, why: "start"})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var critical []string
			changes := false
			for _, ev := range evs {
				switch {
				case ev.File != nil:
					changes = true
				case ev.Event.Severity == alerts.SeverityCritical:
					critical = append(critical, ev.Event.Action)
				}
			}
			if !slices.Equal(critical, tc.critical) || changes != tc.changes {
				t.Errorf("critical %q, changes %v; want %q, %v", critical, changes, tc.critical, tc.changes)
			}
		})
	}
}
