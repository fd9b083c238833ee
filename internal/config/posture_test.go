package config

import (
	"strings"
	"testing"
	"time"
)

func TestPostureTable(t *testing.T) {
	c, err := Parse("test.toml", []byte(`roots = ["/etc"]
[posture]
enable = true
profile = "workstation"
interval = "5m"
extra_sysctls = ["kernel.io_uring_disabled"]
mounts = ["/", "/srv"]
units = ["/etc/systemd/system/app.service"]
profile_file = "/etc/vigil/posture.toml"
disable = ["nft"]
lynis = true
max_exposure = 6
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := c.Posture
	if !p.Enable || c.PostureProfile() != "workstation" || p.Interval != 5*time.Minute || p.MaxExposure != 6 ||
		len(p.ExtraSysctls) != 1 || len(p.Mounts) != 2 || len(p.Units) != 1 || p.ProfileFile == "" || len(p.Disable) != 1 || !p.Lynis {
		t.Errorf("Parse [posture] = %+v", p)
	}
	_, err = Parse("bad.toml", []byte(`roots = ["/etc"]
[posture]
mounts = ["tmp"]
max_exposure = 11
colour = "red"
`))
	for _, want := range []string{"posture.mounts[0]", "posture.max_exposure", "posture.colour"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse of a bad [posture]: %v, want a problem at %s", err, want)
		}
	}
}
