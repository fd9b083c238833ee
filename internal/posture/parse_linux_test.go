package posture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/fimtest"
)

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:0016":                         "127.0.0.1:22",
		"00000000:1F90":                         "0.0.0.0:8080",
		"00000000000000000000000001000000:0277": "[::1]:631",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80",
	} {
		got, ok := parseAddr(in)
		if !ok || got.String() != want {
			t.Errorf("parseAddr(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
}

func TestParseSecurity(t *testing.T) {
	out := `  NAME                                                        DESCRIPTION                                                             EXPOSURE
✗ RootDirectory=/RootImage=                                   Service runs within the host's root directory                                0.1
✓ ProtectSystem=                                              Service has strict read-only access to the OS file hierarchy
✗ PrivateNetwork=                                             Service has access to the host's network                                     0.5

→ Overall exposure level for demo.service: 9.0 UNSAFE 😨
`
	got := parseSecurity(out)
	want := unitScore{exposure: "9.0", failing: []string{"RootDirectory=/RootImage=", "PrivateNetwork="}}
	if got.exposure != want.exposure || !slices.Equal(got.failing, want.failing) {
		t.Errorf("parseSecurity = %+v, want %+v", got, want)
	}
}

func TestModuleLine(t *testing.T) {
	for line, want := range map[string][2]string{
		"ext4 1011712 1 - Live 0xffffffffc0a00000\n":                  {"module:ext4", "loaded"},
		"vboxdrv 696320 2 vboxnetadp, Live 0xffffffffc1000000 (OE)\n": {"module:vboxdrv", "loaded taint=OE"},
	} {
		k, v, ok := moduleLine(line)
		if !ok || k != want[0] || v != want[1] {
			t.Errorf("moduleLine(%q) = %q, %q, %v; want %q, %q", line, k, v, ok, want[0], want[1])
		}
	}
}

// TestModulesUnavailable: where the kernel has no loadable modules (no
// /proc/modules, as on the CI machine), the collector is unavailable, and
// a baseline that had modules sees no change.
func TestModulesUnavailable(t *testing.T) {
	s := &sink{}
	why := modules(s)
	if _, err := os.Stat("/proc/modules"); err == nil {
		t.Skipf("this kernel loads modules (loading one would change the host): %d recorded", len(s.items))
	}
	if why == "" {
		t.Fatalf("modules() without /proc/modules = \"\", want why it is unavailable")
	}
	s.unavailable("module", why)
	old := []Item{{"module:ext4", "loaded"}}
	if c := Compare(old, s.items, nil); len(c) != 0 {
		t.Errorf("Compare(a baseline with modules, unavailable now) = %v, want none", c)
	}
}

func TestParseLynis(t *testing.T) {
	report := "# Lynis Report\nreport_version_major=1\nwarning[]=PKGS-7392|Found one or more vulnerable packages.|-|-|\nsuggestion[]=SSH-7408|x|-|-|\nwarning[]=LOGG-2138|klogd is not running|-|-|\nhardening_index=58\n"
	index, warnings := parseLynis(report)
	if index != "58" || !slices.Equal(warnings, []string{"PKGS-7392", "LOGG-2138"}) {
		t.Errorf("parseLynis = %q, %v; want 58, [PKGS-7392 LOGG-2138]", index, warnings)
	}
	c := Compare([]Item{{"lynis:hardening_index", "70"}}, []Item{{"lynis:hardening_index", "58"}}, DefaultProfiles().Checks)
	if len(c) != 1 || c[0].Severity != "warning" {
		t.Errorf("a falling hardening index: %+v, want a warning", c)
	}
	if c := Compare([]Item{{"lynis:hardening_index", "58"}}, []Item{{"lynis:hardening_index", "70"}}, nil); len(c) != 1 || c[0].Severity != "info" {
		t.Errorf("a rising hardening index: %+v, want info", c)
	}
}

// TestLynis runs lynis on four of its tests (seconds; the whole audit
// takes minutes to hours): its hardening index is recorded.
func TestLynis(t *testing.T) {
	fimtest.Long(t, "runs lynis audit system on four tests")
	if _, err := exec.LookPath("lynis"); err != nil {
		t.Skipf("lynis: %v", err)
	}
	items, err := NewCollector(Options{Lynis: true, LynisTests: []string{"AUTH-9262", "FILE-6310", "KRNL-5820", "BOOT-5122"},
		LynisTimeout: 5 * time.Minute, Disable: slices.DeleteFunc(slices.Clone(Collectors),
			func(c string) bool { return c == "lynis" })}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := item(items, "lynis:hardening_index")
	if n, err := strconv.Atoi(v); !ok || err != nil || n < 0 || n > 100 {
		t.Errorf("lynis:hardening_index = %q (%v), want 0 to 100; items %v", v, ok, items)
	}
}

// TestLynisHangs: a lynis that never ends (here a script of that name that
// starts a child and waits) is killed with its child at the timeout and
// recorded as unavailable, and the collection goes on.
func TestLynisHangs(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(filepath.Join(dir, "lynis"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	items, err := NewCollector(Options{Lynis: true, LynisTimeout: 500 * time.Millisecond, Disable: slices.DeleteFunc(slices.Clone(Collectors),
		func(c string) bool { return c == "lynis" })}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := item(items, unavailablePrefix+"lynis"); !strings.Contains(v, "killed after 500ms") {
		t.Errorf("unavailable:lynis = %q, want it killed after 500ms; items %v", v, items)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child is killed with the group; it may stay a zombie of init
	// for a moment, which signal 0 still finds: wait for it to be reaped
	// or to show as a zombie.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lynis's child %d still runs after the timeout: %s", pid, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseSecurityTable(t *testing.T) {
	out := "UNIT                 EXPOSURE PREDICATE HAPPY\nsshd.service              9.6 UNSAFE    😨\nsystemd-journald.service  4.4 OK        🙂\n"
	got := parseSecurityTable(out)
	if len(got) != 2 || got["sshd.service"] != "9.6" || got["systemd-journald.service"] != "4.4" {
		t.Errorf("parseSecurityTable = %v, want sshd.service 9.6 and systemd-journald.service 4.4", got)
	}
}
