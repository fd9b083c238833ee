package config

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFleet(t *testing.T) {
	text := `roots = ["/etc"]
[fleet]
url = ["nats://10.0.0.1:4222", "tls://nats.example:4222"]
creds_file = "/etc/vigil/fleet.creds"
host = "hv1"
profile = "hypervisor"
heartbeat_interval = "30s"
witnesses = ["w1+01234567+Ab+d", "w2+89abcdef+EfGh"]
quorum = 2
tofu = true
`
	c, err := Parse("f.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Fleet{URLs: []string{"nats://10.0.0.1:4222", "tls://nats.example:4222"}, CredsFile: "/etc/vigil/fleet.creds",
		Host: "hv1", Profile: "hypervisor", HeartbeatInterval: 30 * time.Second,
		Witnesses: []string{"w1+01234567+Ab+d", "w2+89abcdef+EfGh"}, Quorum: 2, TOFU: true}
	if diff := cmp.Diff(want, c.Fleet); diff != "" {
		t.Errorf("Parse [fleet] (-want +got):\n%s", diff)
	}
	if !c.Fleet.Enabled() || c.Fleet.Heartbeat() != 30*time.Second || c.Fleet.QuorumOf() != 2 {
		t.Errorf("Enabled, Heartbeat, QuorumOf = %v, %v, %d, want true, 30s, 2", c.Fleet.Enabled(), c.Fleet.Heartbeat(), c.Fleet.QuorumOf())
	}
	one, err := Parse("f.toml", []byte("roots = [\"/etc\"]\n[fleet]\nurl = \"nats://127.0.0.1:4222\"\nwitnesses = [\"w1+01234567+AbCd\"]\n"))
	if err != nil {
		t.Fatalf("Parse one url: %v", err)
	}
	if got := one.Fleet; len(got.URLs) != 1 || got.Heartbeat() != DefaultHeartbeatInterval || got.QuorumOf() != 1 {
		t.Errorf("one url: URLs %q, Heartbeat %v, QuorumOf %d; want one URL, %v, 1", got.URLs, got.Heartbeat(), got.QuorumOf(), DefaultHeartbeatInterval)
	}
	if Default().Fleet.Enabled() {
		t.Errorf("Default().Fleet.Enabled() = true, want false")
	}
}

func TestFleetProblems(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"bad url", "url = \"http://x:1\"\n", []string{`f.toml:3: fleet.url[0]: "http://x:1" is not a nats:// or tls:// URL`}},
		{"password in url", "url = \"nats://u:secret@x:1\"\n", []string{`f.toml:3: fleet.url[0]: a URL must not carry credentials: use creds_file or nkey_seed_file`}},
		{"relative creds", "url = \"nats://x:1\"\ncreds_file = \"f.creds\"\n", []string{`f.toml:4: fleet.creds_file: "f.creds" is not an absolute path`}},
		{"both creds", "url = \"nats://x:1\"\ncreds_file = \"/a\"\nnkey_seed_file = \"/b\"\n", []string{`f.toml:5: fleet.nkey_seed_file: give creds_file or nkey_seed_file, not both`}},
		{"host with star", "url = \"nats://x:1\"\nhost = \"a.*\"\n", []string{`f.toml:4: fleet.host: "a.*" cannot name a host in the fleet (a NATS key: no '*', '>', '/', white space or empty label)`}},
		{"quorum above witnesses", "url = \"nats://x:1\"\nwitnesses = [\"w+01234567+k\"]\nquorum = 2\n", []string{`f.toml:5: fleet.quorum: must be 0 to the number of witnesses (1), got 2`}},
		{"bad witness key", "url = \"nats://x:1\"\nwitnesses = [\"nokey\"]\n", []string{`f.toml:4: fleet.witnesses[0]: "nokey" is not a verifier key (NAME+HASH+KEY, as vigil keygen writes to vigil.pub)`}},
		{"bad golden key", "url = \"nats://x:1\"\ngolden_keys = [\"ops\"]\n", []string{`f.toml:4: fleet.golden_keys[0]: "ops" is not a verifier key (NAME+HASH+KEY, as vigil keygen writes to vigil.pub)`}},
		{"relative host_specific", "url = \"nats://x:1\"\nhost_specific = [\"etc/machine-id\", \"/etc/[\"]\n", []string{
			`f.toml:4: fleet.host_specific[0]: "etc/machine-id" is not an absolute path pattern (path.Match)`,
			`f.toml:4: fleet.host_specific[1]: "/etc/[" is not an absolute path pattern (path.Match)`}},
		{"no url", "host = \"a\"\n", []string{`f.toml:2: fleet: has no url: list the NATS server(s) the fleet runs on`}},
		{"unknown key", "url = \"nats://x:1\"\npassword = \"x\"\n", []string{`f.toml:4: fleet.password: unknown key`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte("roots = [\"/etc\"]\n[fleet]\n"+tc.text))
			var got []string
			for _, e := range unwrapAll(err) {
				var p *Problem
				if errors.As(e, &p) {
					got = append(got, p.Error())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse problems (-want +got):\n%s", diff)
			}
		})
	}
}
