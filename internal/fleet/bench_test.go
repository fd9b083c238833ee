package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
	"vigil/internal/config"

	"vigil/internal/trusttest"
	"vigil/store"
)

// simulated publishes the state of one real sealed host (trusttest) under
// n host names, each enrolled with the host's key: what n hosts of one
// profile publish, without n databases.
type simulated struct {
	conn  *Conn
	w     *Witness
	state HostState
	hosts []string
}

func newSimulated(b *testing.B, n int) *simulated {
	b.Helper()
	ns := startNATS(b)
	c := connect(b, ns.ClientURL())
	ctx := context.Background()
	if err := c.Init(ctx, 1); err != nil {
		b.Fatal(err)
	}
	h := trusttest.NewHost(b)
	pub, err := os.ReadFile(h.Pub)
	if err != nil {
		b.Fatal(err)
	}
	skey, _ := witnessKey(b, "bench")
	w, err := NewWitness(c, skey, false)
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAgent(trustFleet(ns.ClientURL()), "test", "bench")
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(h.DB, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := &simulated{conn: c, w: w, state: HostState{Host: "test", Version: "bench", HeartbeatSeconds: 10, Phase: PhaseInfo{Phase: "hardened", Signed: true}}}
	if err := a.describe(db, "vigil/test", &s.state); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		host := fmt.Sprintf("host-%05d", i)
		if err := c.Enroll(ctx, host, string(pub), false); err != nil {
			b.Fatal(err)
		}
		s.hosts = append(s.hosts, host)
	}
	return s
}

// wave publishes every host's state once, from 16 goroutines, and returns
// when each put was acknowledged, keyed by host and revision.
func (s *simulated) wave(b *testing.B) map[string]time.Time {
	b.Helper()
	kv, err := s.conn.kv(context.Background(), BucketHosts)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var wg sync.WaitGroup
	ch := make(chan string)
	for range 16 {
		wg.Go(func() {
			for h := range ch {
				st := s.state
				st.Host, st.Time = h, time.Now()
				raw, _ := json.Marshal(st)
				at := time.Now()
				rev, err := kv.Put(context.Background(), h, raw)
				if err != nil {
					b.Error(err)
					continue
				}
				mu.Lock()
				sent[fmt.Sprintf("%s/%d", h, rev)] = at
				mu.Unlock()
			}
		})
	}
	for _, h := range s.hosts {
		ch <- h
	}
	close(ch)
	wg.Wait()
	return sent
}

// BenchmarkWitness1000: 1,000 simulated hosts publish (one wave per
// iteration) to a single-node JetStream and one witness decides on every
// update: the latency from a host's put to the witness's record (verify,
// cosign, revision-checked write), p50 and p99.
func BenchmarkWitness1000(b *testing.B) {
	s := newSimulated(b, 1000)
	var mu sync.Mutex
	decided := map[string]time.Time{}
	done := make(chan struct{}, 1)
	want := 0
	s.w.OnDecision = func(host string, rec Record, _ []string) {
		mu.Lock()
		decided[fmt.Sprintf("%s/%d", host, rec.HostRevision)] = time.Now()
		if len(decided) == want {
			done <- struct{}{}
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.w.Run(ctx, time.Hour) }()
	var lat []time.Duration
	for b.Loop() {
		mu.Lock()
		want += len(s.hosts)
		mu.Unlock()
		sent := s.wave(b)
		<-done
		mu.Lock()
		for k, at := range sent {
			lat = append(lat, decided[k].Sub(at))
		}
		mu.Unlock()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(s.hosts)), "hosts/op")
}

// BenchmarkStatus1000: vigil fleet status's query (every host's entry and
// every witness record, joined) over 1,000 witnessed hosts.
func BenchmarkStatus1000(b *testing.B) {
	s := newSimulated(b, 1000)
	s.wave(b)
	for _, h := range s.hosts {
		kv, _ := s.conn.kv(context.Background(), BucketHosts)
		e, err := kv.Get(context.Background(), h)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.w.Decide(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		st, err := s.conn.Status(context.Background(), time.Now())
		if err != nil || len(st) != 1000 || st[0].State != StateOK {
			b.Fatalf("Status: %d hosts, %v", len(st), err)
		}
	}
	raw, _ := json.Marshal(s.state)
	b.ReportMetric(float64(len(raw)), "state-bytes")
}

// trustFleet is a fleet section for url.
func trustFleet(url string) config.Fleet { return config.Fleet{URLs: []string{url}} }

// BenchmarkWitnessSteady: 1,000 hosts heartbeating every 10 s is 100
// updates a second: one iteration puts 100 updates 10 ms apart (a second
// of that load) and reports the witness latency of each, p50 and p99.
func BenchmarkWitnessSteady(b *testing.B) {
	s := newSimulated(b, 1000)
	kv, err := s.conn.kv(context.Background(), BucketHosts)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	decided := map[string]time.Time{}
	s.w.OnDecision = func(host string, rec Record, _ []string) {
		mu.Lock()
		decided[fmt.Sprintf("%s/%d", host, rec.HostRevision)] = time.Now()
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.w.Run(ctx, time.Hour) }()
	sent := map[string]time.Time{}
	next := 0
	for b.Loop() {
		for range 100 {
			h := s.hosts[next%len(s.hosts)]
			next++
			st := s.state
			st.Host, st.Time = h, time.Now()
			raw, _ := json.Marshal(st)
			at := time.Now()
			rev, err := kv.Put(context.Background(), h, raw)
			if err != nil {
				b.Fatal(err)
			}
			sent[fmt.Sprintf("%s/%d", h, rev)] = at
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range 500 {
		mu.Lock()
		n := len(decided)
		mu.Unlock()
		if n >= len(sent) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for k, at := range sent {
		if d, ok := decided[k]; ok {
			lat = append(lat, d.Sub(at))
		}
	}
	if len(lat) != len(sent) {
		b.Fatalf("%d of %d updates decided", len(lat), len(sent))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
