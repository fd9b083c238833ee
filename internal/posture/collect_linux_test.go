package posture

import (
	"encoding/json"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// inNetns runs fn on a thread of its own in a new network namespace: the
// thread is left locked, so it ends with fn and the namespace with it.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	fimtest.NeedRoot(t, "unshares a network namespace")
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		defer func() { done <- nil }()
		fn()
	}()
	if err := <-done; err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
}

func item(items []Item, key string) (string, bool) {
	i := slices.IndexFunc(items, func(it Item) bool { return it.Key == key })
	if i < 0 {
		return "", false
	}
	return items[i].Value, true
}

// TestNetnsDrift: sysctls and a listening socket of a network namespace
// of the test's own, changed and put back: each change is found with old
// and new values and its severity, and the restored state compares equal
// to the first.
func TestNetnsDrift(t *testing.T) {
	c := NewCollector(Options{NoTools: true})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	inNetns(t, func() {
		before, err := c.Collect(t.Context())
		if err != nil {
			t.Errorf("Collect: %v", err)
			return
		}
		if v, _ := item(before, "sysctl:net.ipv4.ip_forward"); v != "0" {
			t.Errorf("a new namespace's ip_forward = %q, want 0", v)
		}
		for _, w := range []struct{ path, value string }{
			{"/proc/sys/net/ipv4/ip_forward", "1"}, {"/proc/sys/net/ipv4/conf/all/rp_filter", "2"},
		} {
			if err := os.WriteFile(w.path, []byte(w.value), 0); err != nil {
				t.Errorf("write %s in the namespace: %v", w.path, err)
				return
			}
		}
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Errorf("listen in the namespace: %v", err)
			return
		}
		port := ln.Addr().(*net.TCPAddr).Port
		after, err := c.Collect(t.Context())
		if err != nil {
			t.Errorf("Collect: %v", err)
			return
		}
		sock := "socket:tcp:0.0.0.0:" + strconv.Itoa(port)
		oldRP, _ := item(before, "sysctl:net.ipv4.conf.all.rp_filter")
		want := []Change{
			{Key: sock, Action: Added, New: exe, Severity: "alert"},
			// The kernel turns redirects off on a router (devinet_sysctl_forward).
			{Key: "sysctl:net.ipv4.conf.all.accept_redirects", Action: Changed, Old: "1", New: "0", Severity: "warning"},
			{Key: "sysctl:net.ipv4.conf.all.rp_filter", Action: Changed, Old: oldRP, New: "2", Severity: "warning"},
			{Key: "sysctl:net.ipv4.ip_forward", Action: Changed, Old: "0", New: "1", Severity: "alert"},
		}
		if d := cmp.Diff(want, Compare(before, after, DefaultProfiles().Checks)); d != "" {
			t.Errorf("Compare after ip_forward=1, rp_filter=2 and a listener on %d (-want +got):\n%s", port, d)
		}
		checks, _ := DefaultProfiles().For("server")
		r := Evaluate("server", checks, after, before)
		i := slices.IndexFunc(r.Checks, func(res Result) bool { return res.Key == "sysctl:net.ipv4.ip_forward" })
		if i < 0 || r.Checks[i].Status != StatusChanged || r.Checks[i].Compliant || r.Checks[i].Baseline != "0" {
			t.Errorf("Evaluate: ip_forward result = %+v, want changed from 0, not compliant", r.Checks)
		}
		if !slices.ContainsFunc(r.Drift, func(c Change) bool { return c.Key == sock }) || r.ExitCode()&5 != 5 {
			t.Errorf("Evaluate: drift %v, exit %d; want the new socket and exit bits 1|4", r.Drift, r.ExitCode())
		}
		ln.Close()
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0)
		os.WriteFile("/proc/sys/net/ipv4/conf/all/rp_filter", []byte(oldRP), 0)
		restored, err := c.Collect(t.Context())
		if err != nil {
			t.Errorf("Collect: %v", err)
			return
		}
		if d := Compare(before, restored, nil); len(d) != 0 {
			t.Errorf("Compare with the state put back = %v, want none", d)
		}
	})
}

// mountChildEnv makes the test binary, run by TestMountOptions inside a
// mount namespace, print the posture of the mount point it names.
const mountChildEnv = "VIGIL_POSTURE_MOUNT_CHILD"

// TestMountChild is not a test: it is the child of TestMountOptions.
func TestMountChild(t *testing.T) {
	dir := os.Getenv(mountChildEnv)
	if dir == "" {
		t.Skip("runs as the child of TestMountOptions")
	}
	items, err := NewCollector(Options{Mounts: []string{dir}, Disable: slices.DeleteFunc(slices.Clone(Collectors),
		func(c string) bool { return c == "mount" })}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(os.Stdout).Encode(items)
}

// TestMountOptions mounts a tmpfs with noexec, then without, in a mount
// namespace of its own (unshare -m, private propagation: the host's
// mounts are untouched) and collects its options from there.
func TestMountOptions(t *testing.T) {
	fimtest.NeedRoot(t, "mounts a tmpfs in a mount namespace")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	collect := func(opts string) []Item {
		t.Helper()
		script := `mount -t tmpfs -o "$1" tmpfs "$2" && exec "$3" -test.run '^TestMountChild$'`
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", opts, dir, os.Args[0])
		cmd.Env = append(os.Environ(), mountChildEnv+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("unshare -m ... mount -o %s: %v", opts, err)
		}
		var items []Item
		line, _, _ := strings.Cut(string(out), "\n")
		if err := json.Unmarshal([]byte(line), &items); err != nil {
			t.Fatalf("child's output %q: %v", out, err)
		}
		return items
	}
	hard := collect("nosuid,nodev,noexec")
	if v, _ := item(hard, "mount:"+dir); v != "tmpfs rw,nosuid,nodev,noexec" {
		t.Errorf("mount:%s with nosuid,nodev,noexec = %q", dir, v)
	}
	soft := collect("nosuid,nodev")
	want := []Change{{Key: "mount:" + dir, Action: Changed, Old: "tmpfs rw,nosuid,nodev,noexec", New: "tmpfs rw,nosuid,nodev", Severity: "warning"}}
	if d := cmp.Diff(want, Compare(hard, soft, DefaultProfiles().Checks)); d != "" {
		t.Errorf("Compare noexec -> exec (-want +got):\n%s", d)
	}
	if d := Compare(hard, collect("nosuid,nodev,noexec"), nil); len(d) != 0 {
		t.Errorf("Compare with noexec back = %v, want none", d)
	}
	if v, _ := item(hard, "mount:/"); v != "" {
		t.Errorf("mount:/ recorded (%q) though only %s was asked for", v, dir)
	}
}

// TestUnitExposure analyses a unit file offline, weakens it, and puts it
// back: the score rises (a warning), falls (info), and an unchanged unit
// file is not analysed again.
func TestUnitExposure(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(fimtest.RequireRootEnv) != "" {
			t.Fatalf("systemd-analyze: %v, and %s is set: install systemd", err, fimtest.RequireRootEnv)
		}
		t.Skipf("systemd-analyze: %v", err)
	}
	unit := filepath.Join(t.TempDir(), "demo.service")
	hardened := "[Service]\nExecStart=/bin/true\nDynamicUser=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\nNoNewPrivileges=yes\nPrivateNetwork=yes\nProtectKernelTunables=yes\nProtectKernelModules=yes\n"
	write := func(s string) {
		if err := os.WriteFile(unit, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(hardened)
	c := NewCollector(Options{Units: []string{unit}})
	sc, err := c.unitScore(t.Context(), bin, unit)
	if err != nil {
		t.Fatal(err)
	}
	before := []Item{{"systemd:demo.service:exposure", sc.exposure}, {"systemd:demo.service:failing", list(sc.failing)}}
	write("[Service]\nExecStart=/bin/true\n")
	weak, err := c.unitScore(t.Context(), bin, unit)
	if err != nil {
		t.Fatal(err)
	}
	after := []Item{{"systemd:demo.service:exposure", weak.exposure}, {"systemd:demo.service:failing", list(weak.failing)}}
	ch := Compare(before, after, DefaultProfiles().Checks)
	if len(ch) != 2 || ch[0].Key != "systemd:demo.service:exposure" || ch[0].Severity != "warning" || weak.exposure <= sc.exposure {
		t.Fatalf("Compare hardened (%s) -> weakened (%s) = %+v, want a rise of the exposure (warning) and more failing checks", sc.exposure, weak.exposure, ch)
	}
	if !slices.Contains(weak.failing, "PrivateNetwork=") || slices.Contains(sc.failing, "PrivateNetwork=") {
		t.Errorf("failing checks: hardened %v, weakened %v; want PrivateNetwork= only in the weakened", sc.failing, weak.failing)
	}
	if back := Compare(after, before, DefaultProfiles().Checks); back[0].Severity != "info" {
		t.Errorf("a falling score's severity = %q, want info", back[0].Severity)
	}
	n := len(c.cache)
	write(hardened)
	items, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := item(items, "systemd:demo.service:exposure"); v != sc.exposure || len(c.cache) != n {
		t.Errorf("Collect of the restored unit: exposure %q, %d cached scores; want %s from the cache (%d)", v, len(c.cache), sc.exposure, n)
	}
}

// TestAccounts: the account files reduced to names, nothing else kept.
func TestAccounts(t *testing.T) {
	dir := t.TempDir()
	fimtest.Tree{
		"passwd": fimtest.File("root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/zsh\n"),
		"shadow": fimtest.File("root:$y$j9T$secrethash:19000:0:99999:7:::\ntoor::19000::::::\ndaemon:*:19000::::::\nalice:!:19000::::::\n"),
	}.Make(t, dir)
	items, err := NewCollector(Options{Etc: dir, Disable: slices.DeleteFunc(slices.Clone(Collectors),
		func(c string) bool { return c == "accounts" })}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"accounts:uid0": "root,toor", "accounts:login_shell": "alice,root,toor", "accounts:empty_password": "toor",
	} {
		if got, _ := item(items, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, it := range items {
		if strings.Contains(it.Value, "secrethash") || strings.Contains(it.Value, "$y$") {
			t.Errorf("item %s carries shadow content: %q", it.Key, it.Value)
		}
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readFile(filepath.Join(dir, "fifo")); err == nil {
		t.Errorf("readFile of a FIFO = nil error, want it refused")
	}
	if err := os.Symlink("passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := readFile(filepath.Join(dir, "link")); err == nil {
		t.Errorf("readFile of a symlink = nil error, want it not followed")
	}
}

// TestReportGolden: the text report of a fixed state and baseline.
func TestReportGolden(t *testing.T) {
	base := []Item{
		{"accounts:empty_password", None}, {"accounts:uid0", "root"}, {"mount:/tmp", "tmpfs rw,nosuid,nodev,noexec"},
		{"socket:tcp:0.0.0.0:22", "/usr/sbin/sshd"}, {"sysctl:kernel.kptr_restrict", "2"},
		{"sysctl:net.ipv4.ip_forward", "0"}, {"systemd:sshd.service:exposure", "4.2"}, {"unavailable:selinux", "SELinux not enabled"},
	}
	cur := []Item{
		{"accounts:empty_password", None}, {"accounts:uid0", "root"}, {"mount:/tmp", "tmpfs rw,nosuid,nodev"},
		{"socket:tcp:0.0.0.0:22", "/usr/sbin/sshd"}, {"socket:tcp:0.0.0.0:4444", "/tmp/.x/nc"},
		{"sysctl:kernel.kptr_restrict", "0"}, {"sysctl:net.ipv4.ip_forward", "0"},
		{"systemd:sshd.service:exposure", "8.1"}, {"unavailable:selinux", "SELinux not enabled"},
	}
	p := Profiles{Names: []string{"server"}}
	for _, c := range DefaultProfiles().Checks {
		switch c.ID {
		case "kptr_restrict", "ip_forward", "mount_tmp", "uid0", "empty_password", "service_exposure", "selinux":
			p.Checks = append(p.Checks, c)
		}
	}
	checks, err := p.For("server")
	if err != nil {
		t.Fatal(err)
	}
	r := Evaluate("server", checks, cur, base)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("report text (-%s +got), -update rewrites it:\n%s", golden, d)
	}
	if r.ExitCode() != 5 {
		t.Errorf("ExitCode = %d, want 5 (a socket added, checks failing or changed)", r.ExitCode())
	}
}

// BenchmarkCollect is the posture's cost without the programs it runs
// (systemd-analyze, nft): the /proc and /sys readers.
func BenchmarkCollect(b *testing.B) {
	c := NewCollector(Options{NoTools: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Collect(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnitScore is systemd-analyze security --offline on one unit
// file (uncached: a new collector each time), and the same unit file
// again (cached by its content hash).
func BenchmarkUnitScore(b *testing.B) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		b.Skipf("systemd-analyze: %v", err)
	}
	unit := filepath.Join(b.TempDir(), "demo.service")
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/true\nPrivateTmp=yes\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewCollector(Options{}).unitScore(b.Context(), bin, unit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := NewCollector(Options{})
		for b.Loop() {
			if _, err := c.unitScore(b.Context(), bin, unit); err != nil {
				b.Fatal(err)
			}
		}
	})
}
