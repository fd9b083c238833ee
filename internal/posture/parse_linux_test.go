package posture

import (
	"os"
	"slices"
	"testing"
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
