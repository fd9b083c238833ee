package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/console"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/trusttest"
	"vigil/merkle"
	"vigil/store"
)

// profileHost is a sealed host of a profile, publishing to the fleet.
type profileHost struct {
	name  string
	h     *trusttest.Host
	agent *Agent
}

func (p *profileHost) publish(t *testing.T, c *Conn, w *Witness) {
	t.Helper()
	db, err := store.Open(p.h.DB, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng, err := engine.New(p.h.Config, engine.Settings{Host: p.name, Witness: p.agent})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.agent.Publish(t.Context(), eng, db, nil); err != nil {
		t.Fatalf("%s: Publish: %v", p.name, err)
	}
	if err := w.Decide(t.Context(), latest(t, c, p.name)); err != nil {
		t.Fatalf("%s: Decide: %v", p.name, err)
	}
}

// newProfile makes n sealed hosts of profile "hv" monitoring one path (each
// made at it in turn, then moved away), enrolled and published; drift
// changes the trees of the hosts it names before their baselines.
func newProfile(t *testing.T, c *Conn, w *Witness, urls []string, n int, drift map[int]func(root string)) []*profileHost {
	t.Helper()
	root := filepath.Join(t.TempDir(), "srv")
	var hosts []*profileHost
	for i := range n {
		name := fmt.Sprintf("hv%02d", i)
		h := trusttest.NewHostAt(t, root, name, drift[i])
		pub, err := os.ReadFile(h.Pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Enroll(t.Context(), name, string(pub), false); err != nil {
			t.Fatal(err)
		}
		a, err := NewAgent(config.Fleet{URLs: urls, Host: name, Profile: "hv", HeartbeatInterval: time.Minute}, name, "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		p := &profileHost{name: name, h: h, agent: a}
		p.publish(t, c, w)
		hosts = append(hosts, p)
		if err := os.Rename(root, root+"."+name); err != nil {
			t.Fatal(err)
		}
	}
	return hosts
}

func promote(t *testing.T, c *Conn, host string, signer note.Signer, vs note.Verifiers) Golden {
	t.Helper()
	g, err := c.Candidate(t.Context(), "hv", host, "ops", "promote "+host, time.Now())
	if err != nil {
		t.Fatalf("Candidate(%s): %v", host, err)
	}
	signed, err := note.Sign(&note.Note{Text: g.Statement()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	g, err = c.SetGolden(t.Context(), signed, vs)
	if err != nil {
		t.Fatalf("SetGolden(%s): %v", host, err)
	}
	return g
}

func drifted(t *testing.T, c *Conn) []string {
	t.Helper()
	st, err := c.Status(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range st {
		if h.State == StateDrifted {
			out = append(out, fmt.Sprintf("%s:%d", h.Host, h.Drift))
		} else if h.State != StateOK {
			t.Errorf("%s: state %s (%s)", h.Host, h.State, h.Problem)
		}
	}
	return out
}

// TestGoldenDrift: 20 hosts of one profile, two of them drifted (a byte
// changed; a file added): with one host promoted, fleet status shows
// exactly those two as drifted, each by its count, and the console does
// too; fleet diff names the path; a promotion of a drifted host moves the
// golden root and the drift follows; a forged golden statement is refused.
func TestGoldenDrift(t *testing.T) {
	fimtest.NeedRoot(t, "setuid files in the hosts' trees")
	ns := startNATS(t)
	urls := []string{ns.ClientURL()}
	c := connect(t, urls...)
	if err := c.Init(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	wkey, _ := witnessKey(t, "witness1")
	w, err := NewWitness(c, wkey, false)
	if err != nil {
		t.Fatal(err)
	}
	gskey, gvkey := witnessKey(t, "ops-golden")
	if err := w.SetGoldenKeys([]string{gvkey}); err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(gskey)
	vs, _ := GoldenVerifiers([]string{gvkey})

	n := 20
	if !fimtest.IsLong() {
		n = 6
	}
	hosts := newProfile(t, c, w, urls, n, map[int]func(string){
		2: func(r string) { os.WriteFile(filepath.Join(r, "etc/passwd"), []byte("root:x:0:1\n"), 0o644) },
		4: func(r string) { os.WriteFile(filepath.Join(r, "etc/shadow"), []byte("x"), 0o600) },
	})
	// One upload per distinct directory: the identical hosts share them.
	nodes, err := c.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	lister, err := nodes.os.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stored = len(lister)
	// Every tree has the directories from / down to its root, and bin and
	// etc below it; three distinct trees (the same, a byte changed, a file
	// added) at most that many each, however many hosts hold them.
	depth := strings.Count(hosts[0].h.Root, "/")
	if perTree := depth + 1 + 2; stored > 3*perTree {
		t.Errorf("vigil_nodes holds %d manifests for %d hosts of 3 distinct trees (at most %d each)", stored, n, perTree)
	}

	if got := drifted(t, c); len(got) != 0 {
		t.Errorf("before any golden baseline: drifted %q", got)
	}
	promote(t, c, "hv00", signer, vs)
	for _, h := range hosts {
		h.publish(t, c, w) // the next heartbeat: the witness compares it
	}
	if got, want := drifted(t, c), []string{"hv02:1", "hv04:1"}; !slices.Equal(got, want) {
		t.Errorf("drifted hosts %q, want %q", got, want)
	}
	// Another heartbeat of every host: the same roots, the same golden,
	// nothing compared again, the same drift.
	before := w.drifts.Load()
	for _, h := range hosts {
		h.publish(t, c, w)
	}
	if d := w.drifts.Load() - before; d != 0 {
		t.Errorf("a heartbeat with nothing changed compared %d hosts with the golden again", d)
	}
	if got, want := drifted(t, c), []string{"hv02:1", "hv04:1"}; !slices.Equal(got, want) {
		t.Errorf("after a heartbeat: drifted hosts %q, want %q", got, want)
	}

	// fleet diff: the path and both sides, fetched by descent.
	golden, _ := c.Golden(t.Context(), "hv", vs)
	gr, _ := golden.GoldenRoot()
	r4, err := c.PortableRoot(t.Context(), "hv04")
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	used, err := c.DiffRoots(t.Context(), gr, r4, func(ch merkle.Change) error {
		changes = append(changes, ch.Action.String()+" "+strings.TrimPrefix(ch.Path, hosts[4].h.Root))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !strings.HasSuffix(changes[0], "/etc/shadow") || !strings.HasPrefix(changes[0], "created ") {
		t.Errorf("fleet diff hv04 --golden: %q, want etc/shadow created", changes)
	}
	// One pair of manifests per directory from / down to etc: nothing else.
	if want := 2 * (depth + 2); used.Fetched != want {
		t.Errorf("fleet diff fetched %d manifests for one added file, want %d (the two sides' directories above it)", used.Fetched, want)
	}

	// The console shows the same two.
	cs, err := console.New(&ConsoleSource{Conn: c, GoldenVerifiers: vs}, console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/?state=drifted")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for i, h := range hosts {
		shown := strings.Contains(string(body), `data-host="`+h.name+`"`)
		if shown != (i == 2 || i == 4) {
			t.Errorf("console ?state=drifted: %s shown %v", h.name, shown)
		}
	}

	resp, err = srv.Client().Get(srv.URL + "/diff?host=hv04&golden=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), hosts[4].h.Root+"/etc/shadow") || !strings.Contains(string(body), "golden hv (hv00)") {
		t.Errorf("console diff of hv04 with its golden: %d\n%s", resp.StatusCode, body)
	}

	resp, err = srv.Client().Get(srv.URL + "/golden/hv")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "promote hv00") || strings.Count(string(body), `class="state-drifted"`) != 2 {
		t.Errorf("console golden page of hv: %d, want the promotion and two drifted hosts\n%s", resp.StatusCode, body)
	}

	// Promote hv04: the golden root moves, the drift follows.
	promote(t, c, "hv04", signer, vs)
	for _, h := range hosts {
		h.publish(t, c, w)
	}
	got := drifted(t, c)
	if slices.Contains(got, "hv04:1") || !slices.Contains(got, "hv00:1") || !slices.Contains(got, "hv02:2") || len(got) != n-1 {
		t.Errorf("after promoting hv04: drifted %q, want every host but hv04 (hv02 by 2)", got)
	}
	log, err := c.GoldenLog(t.Context(), "hv", vs)
	if err != nil || len(log) != 2 || log[0].Host != "hv00" || log[1].Host != "hv04" || log[1].SignedBy != "ops-golden" {
		t.Errorf("golden log = %+v, %v", log, err)
	}

	// A golden statement signed by another key is no promotion.
	other, _ := witnessKey(t, "intruder")
	os2, _ := note.NewSigner(other)
	g, _ := c.Candidate(t.Context(), "hv", "hv02", "x", "y", time.Now())
	forged, _ := note.Sign(&note.Note{Text: g.Statement()}, os2)
	if _, err := c.SetGolden(t.Context(), forged, vs); err == nil {
		t.Error("SetGolden accepted a statement signed by a key not in golden_keys")
	}
	if _, err := c.Golden(context.Background(), "hv", vs); err != nil {
		t.Errorf("the golden baseline after a refused forgery: %v", err)
	}
}
