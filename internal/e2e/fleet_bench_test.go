package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/internal/trusttest"
	"vigil/store"
)

// procStat returns the CPU time (user + system) and the peak RSS of pid.
func procStat(b *testing.B, pid int) (cpu time.Duration, hwm int64) {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			hwm = kb * 1024
		}
	}
	return cpu, hwm
}

// BenchmarkFleetServe runs vigil fleet serve (the built binary) against a
// single-node JetStream embedded here while 1,000 simulated hosts (the
// state of one real sealed host, under 1,000 enrolled names) heartbeat
// every 10 s, for one 10 s round per iteration: the witness's CPU share
// and peak RSS, and the latency from each update to its decision in
// vigil_witness (p50, p99).
func BenchmarkFleetServe(b *testing.B) {
	const hosts, period = 1000, 10 * time.Second
	bin := vigilBinary(b)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats-server not ready")
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	conn, err := fleet.NewConn(nc)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.Init(ctx, 1); err != nil {
		b.Fatal(err)
	}
	h := trusttest.NewHost(b)
	pub, _ := os.ReadFile(h.Pub)
	skey, vkey, _ := note.GenerateKey(nil, "witness")
	dir := b.TempDir()
	cfgPath, keyPath := filepath.Join(dir, "fleet.toml"), filepath.Join(dir, "witness.key")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, "roots = [\"/etc\"]\n[fleet]\nurl = %q\n", ns.ClientURL()), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(keyPath, []byte(skey+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	// One real state, published by the agent.
	a, err := fleet.NewAgent(config.Fleet{URLs: []string{ns.ClientURL()}, Host: "model", Witnesses: []string{vkey}}, "test", "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	eng, err := engine.New(h.Config, engine.Settings{Host: "test", Witness: a})
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(h.DB, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	err = a.Publish(ctx, eng, db, nil)
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	kv, err := conn.JetStream().KeyValue(ctx, fleet.BucketHosts)
	if err != nil {
		b.Fatal(err)
	}
	e, err := kv.Get(ctx, "model")
	if err != nil {
		b.Fatal(err)
	}
	var model fleet.HostState
	if err := json.Unmarshal(e.Value(), &model); err != nil {
		b.Fatal(err)
	}
	model.HeartbeatSeconds = period.Seconds()
	names := make([]string, hosts)
	for i := range names {
		names[i] = fmt.Sprintf("host-%05d", i)
		if err := conn.Enroll(ctx, names[i], string(pub), false); err != nil {
			b.Fatal(err)
		}
	}
	// Decisions, timestamped as they land in vigil_witness.
	wkv, err := conn.JetStream().KeyValue(ctx, fleet.BucketWitness)
	if err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch, err := wkv.WatchAll(wctx, jetstream.UpdatesOnly())
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	decided := map[string]time.Time{}
	go func() {
		for e := range watch.Updates() {
			if e == nil {
				continue
			}
			var r fleet.Record
			if json.Unmarshal(e.Value(), &r) == nil {
				mu.Lock()
				decided[fmt.Sprintf("%s/%d", r.Host, r.HostRevision)] = time.Now()
				mu.Unlock()
			}
		}
	}()
	cmd := exec.Command(bin, "--config", cfgPath, "--quiet", "fleet", "serve", "--key", keyPath)
	var serveLog strings.Builder
	cmd.Stderr = &serveLog
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sent := map[string]time.Time{}
	var cpu time.Duration
	var rounds int
	for b.Loop() {
		cpu0, _ := procStat(b, cmd.Process.Pid)
		tick := time.NewTicker(period / hosts)
		for _, name := range names {
			<-tick.C
			st := model
			st.Host, st.Time = name, time.Now()
			raw, _ := json.Marshal(st)
			at := time.Now()
			rev, err := kv.Put(ctx, name, raw)
			if err != nil {
				b.Fatal(err)
			}
			sent[fmt.Sprintf("%s/%d", name, rev)] = at
		}
		tick.Stop()
		cpu1, _ := procStat(b, cmd.Process.Pid)
		cpu += cpu1 - cpu0
		rounds++
	}
	for range 1000 {
		mu.Lock()
		n := 0
		for k := range sent {
			if _, ok := decided[k]; ok {
				n++
			}
		}
		mu.Unlock()
		if n == len(sent) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, hwm := procStat(b, cmd.Process.Pid)
	// vigil fleet status over the 1,000 hosts (and the unenrolled model),
	// the whole command: start, connect, read both buckets, print.
	var best time.Duration
	for range 3 {
		st := exec.Command(bin, "--config", cfgPath, "fleet", "status", "--json")
		var out strings.Builder
		st.Stdout = &out
		start := time.Now()
		_ = st.Run() // exit 8: the model host is unknown
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
		if n := strings.Count(out.String(), "\n"); n != hosts+1 {
			b.Fatalf("fleet status --json printed %d lines, want %d", n, hosts+1)
		}
	}
	b.ReportMetric(float64(best.Microseconds())/1000, "status-ms")
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for k, at := range sent {
		if d, ok := decided[k]; ok {
			lat = append(lat, d.Sub(at))
		}
	}
	if len(lat) != len(sent) {
		var missed []string
		for k := range sent {
			if _, ok := decided[k]; !ok {
				missed = append(missed, k)
			}
		}
		b.Fatalf("%d of %d updates decided; not %q\n%s", len(lat), len(sent), missed, serveLog.String())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*cpu.Seconds()/(float64(rounds)*period.Seconds()), "cpu-%")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
}
