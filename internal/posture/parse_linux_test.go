package posture

import (
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
