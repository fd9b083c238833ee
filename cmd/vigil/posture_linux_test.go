package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/internal/posture"
)

// asVigilEnv makes the test binary run as vigil itself (for the tests that
// run it in namespaces of their own).
const asVigilEnv = "VIGIL_TEST_AS_VIGIL"

func init() {
	if os.Getenv(asVigilEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

// postureSetup is a setup whose configuration records the posture with
// the collectors named (the others disabled: the host's own state, which
// other programs may change, stays out of the test), and extra lines.
func postureSetup(t *testing.T, collectors []string, extra string) setup {
	t.Helper()
	s := newSetup(t, fimtest.Tree{"etc/motd": fimtest.File("hi\n")})
	disable := slices.DeleteFunc(slices.Clone(posture.Collectors), func(c string) bool { return slices.Contains(collectors, c) })
	q := make([]string, len(disable))
	for i, d := range disable {
		q[i] = strconv.Quote(d)
	}
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\n[posture]\nenable = true\ndisable = [%s]\n%s", strings.Join(q, ", "), extra)
	return s
}

// postureEvents returns the posture events of check --json output.
func postureEvents(t *testing.T, stdout string) map[string]alerts.Event {
	out := map[string]alerts.Event{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Errorf("line %q: %v", sc.Text(), err)
			continue
		}
		if ev.Vigil != nil && ev.Vigil.Posture != nil {
			out[ev.Vigil.Posture.Key] = ev
		}
	}
	return out
}

// TestPostureReportHere: vigil posture --profile server --json on this
// machine: every check has a status, a current value and a
// recommendation; the exit code is the report's bitmask.
func TestPostureReportHere(t *testing.T) {
	s := newSetup(t, fimtest.Tree{"a": fimtest.File("a")})
	out := vigil(t, s.args("posture", "--profile", "server", "--json")...)
	if out.code&^7 != 0 {
		t.Fatalf("vigil posture exited %d, want a bitmask of 1, 2, 4\nstderr: %s", out.code, out.stderr)
	}
	var r posture.Report
	if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
		t.Fatalf("posture --json: %v\n%s", err, out.stdout)
	}
	if r.Profile != "server" || len(r.Checks) < 20 || r.Pass+r.Fail+r.Changed+r.Unavailable != len(r.Checks) {
		t.Errorf("report: profile %q, %d checks, counts %d/%d/%d/%d", r.Profile, len(r.Checks), r.Pass, r.Fail, r.Changed, r.Unavailable)
	}
	for _, c := range r.Checks {
		rec := c.Recommendation
		if !slices.Contains([]string{"pass", "fail", "unavailable"}, c.Status) || c.Current == "" || c.Expected == "" ||
			rec.Sysctl+rec.NixOS+rec.Unit+rec.Text == "" || c.Why == "" {
			t.Errorf("check %s (%s): status %q, current %q, expected %q, recommendation %+v", c.ID, c.Key, c.Status, c.Current, c.Expected, rec)
		}
	}
	if want := 0; r.Fail > 0 {
		want = 4
		if out.code != want {
			t.Errorf("exit %d with %d failing checks, want %d", out.code, r.Fail, want)
		}
	}
	if out := vigil(t, s.args("posture", "--profile", "desktop")...); out.code != exitUsage {
		t.Errorf("posture --profile desktop exited %d, want %d", out.code, exitUsage)
	}
}

// TestPostureDrift records the posture with the files in a network
// namespace of the test's own, changes it (ip_forward, rp_filter, a
// listening socket, a unit file's hardening) and puts it back: each change
// is in check (old -> new, severity info in the setup phase) and in
// vigil posture --baseline, and the restored state is clean.
func TestPostureDrift(t *testing.T) {
	fimtest.NeedRoot(t, "unshares a network namespace")
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skipf("systemd-analyze: %v", err)
	}
	unit := filepath.Join(t.TempDir(), "demo.service")
	hardened := "[Service]\nExecStart=/bin/true\nDynamicUser=yes\nPrivateNetwork=yes\nProtectSystem=strict\nPrivateTmp=yes\n"
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Error(err)
		}
	}
	write(unit, hardened)
	s := postureSetup(t, []string{"sysctl", "socket", "systemd"}, fmt.Sprintf("units = [%q]\n", unit))
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		postureDrift(t, s, unit, hardened, write)
	}()
	<-done
}

func postureDrift(t *testing.T, s setup, unit, hardened string, write func(string, string)) {
	if out := vigil(t, s.args("init")...); out.code != 0 {
		t.Errorf("init exited %d: %s", out.code, out.stderr)
		return
	}
	if out := vigil(t, s.args("check", "--json")...); out.code != 0 || len(postureEvents(t, out.stdout)) != 0 {
		t.Errorf("check of an unchanged host exited %d:\n%s%s", out.code, out.stdout, out.stderr)
		return
	}
	write("/proc/sys/net/ipv4/ip_forward", "1")
	write(unit, "[Service]\nExecStart=/bin/true\n")
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Errorf("listen: %v", err)
		return
	}
	sock := "socket:tcp:0.0.0.0:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	out := vigil(t, s.args("check", "--json")...)
	evs := postureEvents(t, out.stdout)
	if out.code != exitAdded|exitChanged {
		t.Errorf("check after the changes exited %d, want %d\n%s%s", out.code, exitAdded|exitChanged, out.stdout, out.stderr)
	}
	exe, _ := os.Executable()
	for key, want := range map[string]string{
		"sysctl:net.ipv4.ip_forward": "posture_changed 0 -> 1", sock: "posture_added  -> " + exe,
		"systemd:demo.service:exposure": "posture_changed", "systemd:demo.service:failing": "posture_changed",
	} {
		ev, ok := evs[key]
		if !ok {
			t.Errorf("check --json has no event for %s; got %v", key, evs)
			continue
		}
		p := ev.Vigil.Posture
		got := ev.Event.Action + " " + p.Old + " -> " + p.New
		if !strings.HasPrefix(got, want) || ev.Event.Severity != alerts.SeverityInfo || ev.Vigil.Posture == nil {
			t.Errorf("event for %s: %q severity %d, want %q... severity info (setup phase)", key, got, ev.Event.Severity, want)
		}
	}
	if p := evs["systemd:demo.service:exposure"].Vigil; p != nil {
		o, _ := strconv.ParseFloat(p.Posture.Old, 64)
		n, _ := strconv.ParseFloat(p.Posture.New, 64)
		if n <= o {
			t.Errorf("weakened unit's exposure %s -> %s, want a rise", p.Posture.Old, p.Posture.New)
		}
	}
	out = vigil(t, s.args("posture", "--baseline", "--json")...)
	var r posture.Report
	if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
		t.Errorf("posture --baseline --json: %v\n%s%s", err, out.stdout, out.stderr)
	}
	i := slices.IndexFunc(r.Checks, func(c posture.Result) bool { return c.Key == "sysctl:net.ipv4.ip_forward" })
	if i < 0 || r.Checks[i].Status != posture.StatusChanged || r.Checks[i].Baseline != "0" || r.Checks[i].Current != "1" ||
		!slices.ContainsFunc(r.Drift, func(c posture.Change) bool { return c.Key == sock }) || out.code&5 != 5 {
		t.Errorf("posture --baseline: exit %d, checks %+v, drift %+v; want ip_forward changed 0 -> 1, %s in the drift", out.code, r.Checks, r.Drift, sock)
	}
	// A reviewed report with posture events: update --from accepts the
	// files it lists and keeps the recorded posture.
	report := filepath.Join(t.TempDir(), "review.json")
	write(report, vigil(t, s.args("check", "--json")...).stdout)
	if out := vigil(t, s.args("update", "--from", report)...); out.code != 0 {
		t.Errorf("update --from a report with posture events exited %d: %s", out.code, out.stderr)
	}
	if out := vigil(t, s.args("check")...); out.code != exitAdded|exitChanged {
		t.Errorf("check after update --from exited %d, want %d (the posture is not accepted by a review of files)", out.code, exitAdded|exitChanged)
	}
	ln.Close()
	write("/proc/sys/net/ipv4/ip_forward", "0")
	write(unit, hardened)
	if out := vigil(t, s.args("check", "--json")...); out.code != 0 || len(postureEvents(t, out.stdout)) != 0 {
		t.Errorf("check with the posture put back exited %d, want 0:\n%s%s", out.code, out.stdout, out.stderr)
	}
}

// TestPostureMountNamespace records the posture with a tmpfs mounted
// noexec, in a mount namespace of its own (unshare -m, private: the
// host's mounts are untouched), remounts it without noexec, checks, puts
// noexec back and checks again: the change, then a clean check.
func TestPostureMountNamespace(t *testing.T) {
	fimtest.NeedRoot(t, "mounts a tmpfs in a mount namespace")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "scratch")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := postureSetup(t, []string{"mount"}, fmt.Sprintf("mounts = [%q]\n", dir))
	outDir := t.TempDir()
	script := `set -e
mount -t tmpfs -o nosuid,nodev,noexec tmpfs "$1"
"$2" --config "$3" init
mount -o remount,exec "$1"
"$2" --config "$3" check --json > "$4/weak" || echo $? > "$4/weak.rc"
mount -o remount,noexec "$1"
"$2" --config "$3" check --json > "$4/back" || echo $? > "$4/back.rc"
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", dir, os.Args[0], s.config, outDir)
	cmd.Env = append(os.Environ(), asVigilEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unshare -m sh -c ...: %v\n%s", err, out)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(outDir, name))
		return strings.TrimSpace(string(b))
	}
	evs := postureEvents(t, read("weak"))
	ev, ok := evs["mount:"+dir]
	if rc := read("weak.rc"); rc != "4" || !ok || ev.Vigil.Posture.Old != "tmpfs rw,nosuid,nodev,noexec" || ev.Vigil.Posture.New != "tmpfs rw,nosuid,nodev" {
		t.Errorf("check after remount,exec: exit %s, events %+v; want 4 and mount:%s noexec -> exec", rc, evs, dir)
	}
	if rc, evs := read("back.rc"), postureEvents(t, read("back")); rc != "" || len(evs) != 0 {
		t.Errorf("check with noexec back: exit %q, events %v; want 0 and none", rc, evs)
	}
}

// TestPostureSealed seals the posture with the files in a network
// namespace of the test's own: a change in the hardened phase is an alert,
// update is refused, a reseal accepts it, and posture entries edited in
// the database fail the check (exit 8) though the seal still verifies.
func TestPostureSealed(t *testing.T) {
	fimtest.NeedRoot(t, "unshares a network namespace")
	s := newSealSetup(t, fimtest.Tree{"f": fimtest.File("f")})
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[posture]\nenable = true\nextra_sysctls = [\"net.ipv4.conf.lo.forwarding\"]\ndisable = [%s]\n", quotedCollectors("sysctl"))
	f.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		postureSealed(t, s)
	}()
	<-done
}

func quotedCollectors(except ...string) string {
	var q []string
	for _, c := range posture.Collectors {
		if !slices.Contains(except, c) {
			q = append(q, strconv.Quote(c))
		}
	}
	return strings.Join(q, ", ")
}

func postureSealed(t *testing.T, s sealSetup) {
	step := func(want int, args ...string) output {
		out := vigil(t, s.args(args...)...)
		if out.code != want {
			t.Errorf("vigil %q exited %d, want %d\n%s%s", args, out.code, want, out.stdout, out.stderr)
		}
		return out
	}
	if err := os.WriteFile(s.marker, []byte("hardened\n"), 0o644); err != nil {
		t.Error(err)
		return
	}
	step(0, "seal", "--key", s.key, "--reason", "phase 2")
	step(0, "check")
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0); err != nil {
		t.Error(err)
		return
	}
	out := step(exitChanged, "check", "--json")
	ev, ok := postureEvents(t, out.stdout)["sysctl:net.ipv4.ip_forward"]
	if !ok || ev.Event.Severity != alerts.SeverityAlert || ev.Vigil.Phase != "hardened" {
		t.Errorf("hardened check: ip_forward event %+v, want severity alert (%d)", ev, alerts.SeverityAlert)
	}
	step(exitUsage, "update")
	// Posture changes are pending (ip_forward moves lo.forwarding and
	// accept_redirects with it): a seal needs a reason.
	out = step(exitUsage, "seal", "--key", s.key)
	if !strings.Contains(out.stdout, "posture sysctl:net.ipv4.ip_forward 0 -> 1") || !strings.Contains(out.stderr, "3 changes are pending") {
		t.Errorf("seal with a posture change pending: stdout %q, stderr %q; want it listed and counted", out.stdout, out.stderr)
	}
	step(0, "reseal", "--key", s.key, "--reason", "router now")
	step(0, "check")
	out = step(exitChanged, "diff")
	if !strings.Contains(out.stdout, "~ posture sysctl:net.ipv4.ip_forward 0 -> 1 (alert)") {
		t.Errorf("vigil diff after the reseal: %q, want ip_forward 0 -> 1", out.stdout)
	}
	if t.Failed() {
		return
	}
	editPosture(t, s.db, "sysctl:net.ipv4.ip_forward", "0", false)
	out = step(exitTampered, "check")
	if !strings.Contains(out.stderr, "posture") {
		t.Errorf("check of edited posture entries: stderr %q, want the posture named", out.stderr)
	}
	// The entries and the root rewritten to match: the signed statement
	// names the old root.
	editPosture(t, s.db, "sysctl:net.ipv4.ip_forward", "0", true)
	out = step(exitTampered, "check")
	if !strings.Contains(out.stderr, "signed statement does not describe the baseline") {
		t.Errorf("check of a re-rooted posture: stderr %q, want the seal to fail", out.stderr)
	}
}

// editPosture rewrites the value of key in the current baseline's recorded
// posture, directly in the database: what root can do to the file.
// With reroot, it also writes the root the edited entries hash to.
func editPosture(t *testing.T, db, key, value string, reroot bool) {
	b, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Error(err)
		return
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		cur := tx.Bucket([]byte("meta")).Get([]byte("current"))
		bs := tx.Bucket([]byte("baselines"))
		var info map[string]any
		if err := json.Unmarshal(bs.Get(cur), &info); err != nil {
			return err
		}
		p, _ := info["posture"].(map[string]any)
		items, _ := p["items"].([]any)
		var pi []posture.Item
		for _, it := range items {
			m := it.(map[string]any)
			if m["key"] == key {
				m["value"] = value
			}
			pi = append(pi, posture.Item{Key: m["key"].(string), Value: m["value"].(string)})
		}
		if reroot {
			root, err := posture.Root(pi)
			if err != nil {
				return err
			}
			p["root"] = hex.EncodeToString(root[:])
		}
		raw, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return bs.Put(bytes.Clone(cur), raw)
	})
	if err != nil {
		t.Error(err)
	}
}
