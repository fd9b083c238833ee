package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
)

// startNATS runs an embedded single-node JetStream server on loopback.
func startNATS(t testing.TB) *server.Server {
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

// cluster is an embedded three-node JetStream cluster on loopback.
type cluster struct {
	opts    []*server.Options
	servers []*server.Server
}

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{}
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := range 3 {
		c.opts = append(c.opts, &server.Options{ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: freePort(t),
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
			Cluster: server.ClusterOpts{Name: "vigil", Host: "127.0.0.1", Port: ports[i]}, Routes: routes})
	}
	c.servers = make([]*server.Server, 3)
	for i := range 3 {
		c.start(t, i)
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	for _, s := range c.servers {
		waitJS(t, s)
	}
	return c
}

func (c *cluster) start(t testing.TB, i int) {
	t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("node %d not ready within 10s", i)
	}
	c.servers[i] = s
}

func (c *cluster) stop(i int) {
	c.servers[i].Shutdown()
	c.servers[i].WaitForShutdown()
	c.servers[i] = nil
}

// waitJS waits until s's JetStream is current with a meta leader (a
// cluster takes a moment to elect one).
func waitJS(t testing.TB, s *server.Server) {
	t.Helper()
	for range 800 {
		if s.JetStreamIsCurrent() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: JetStream not current within 20s", s.Name())
}

func (c *cluster) urls() []string {
	var out []string
	for _, o := range c.opts {
		out = append(out, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return out
}

// connect connects to urls as the fleet's client does.
func connect(t testing.TB, urls ...string) *Conn {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// witnessKey makes a witness key pair.
func witnessKey(t testing.TB, name string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// fleetEvents returns the events stored in VIGIL_FLEET, in order.
func fleetEvents(t testing.TB, c *Conn) []alerts.Event {
	t.Helper()
	ctx := context.Background()
	s, err := c.js.Stream(ctx, StreamFleet)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []alerts.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		var ev alerts.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// actions returns the actions of evs.
func eventActions(evs []alerts.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event.Action)
	}
	return out
}

// latest returns host's newest vigil_hosts entry.
func latest(t testing.TB, c *Conn, host string) jetstream.KeyValueEntry {
	t.Helper()
	kv, err := c.kv(context.Background(), BucketHosts)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), host)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", BucketHosts, host, err)
	}
	return e
}
