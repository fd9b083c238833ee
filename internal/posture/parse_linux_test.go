package posture

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"

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

// TestLynis runs lynis (minutes): its hardening index and warnings are
// recorded.
func TestLynis(t *testing.T) {
	fimtest.Long(t, "runs lynis audit system, minutes")
	if _, err := exec.LookPath("lynis"); err != nil {
		t.Skipf("lynis: %v", err)
	}
	items, err := NewCollector(Options{Lynis: true, Disable: slices.DeleteFunc(slices.Clone(Collectors),
		func(c string) bool { return c == "lynis" })}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := item(items, "lynis:hardening_index")
	if n, err := strconv.Atoi(v); !ok || err != nil || n < 0 || n > 100 {
		t.Errorf("lynis:hardening_index = %q (%v), want 0 to 100; items %v", v, ok, items)
	}
}

func TestParseSecurityTable(t *testing.T) {
	out := "UNIT                 EXPOSURE PREDICATE HAPPY\nsshd.service              9.6 UNSAFE    😨\nsystemd-journald.service  4.4 OK        🙂\n"
	got := parseSecurityTable(out)
	if len(got) != 2 || got["sshd.service"] != "9.6" || got["systemd-journald.service"] != "4.4" {
		t.Errorf("parseSecurityTable = %v, want sshd.service 9.6 and systemd-journald.service 4.4", got)
	}
}
