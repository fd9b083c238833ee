package posture

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

func TestRootAndLeafNames(t *testing.T) {
	a := []Item{{"mount:/tmp", "tmpfs rw"}, {"sysctl:kernel.kptr_restrict", "2"}, {"mount:%2Ftmp", "x"}}
	Sort(a)
	ra, err := Root(a)
	if err != nil {
		t.Fatalf("Root(%v): %v", a, err)
	}
	b := slices.Clone(a)
	b[len(b)-1].Value = "1"
	rb, err := Root(b)
	if err != nil || rb == ra {
		t.Errorf("Root after a value changed = %x, %v; want a root other than %x", rb, err, ra)
	}
	if LeafName("mount:/tmp") == LeafName("mount:%2Ftmp") {
		t.Errorf("LeafName collides: %q", LeafName("mount:/tmp"))
	}
	if ra2, _ := Root(slices.Clone(a)); ra2 != ra {
		t.Errorf("Root is not deterministic: %x then %x", ra, ra2)
	}
}

func TestCompare(t *testing.T) {
	old := []Item{
		{"socket:tcp:0.0.0.0:22", "/usr/sbin/sshd"}, {"sysctl:net.ipv4.ip_forward", "0"},
		{"systemd:a.service:exposure", "5.0"}, {"systemd:b.service:exposure", "5.0"},
		{"nft:ruleset", "sha256:aa"}, {"unavailable:selinux", "not enabled"},
	}
	cur := []Item{
		{"socket:tcp:0.0.0.0:8080", "/usr/bin/python3"}, {"sysctl:net.ipv4.ip_forward", "1"},
		{"systemd:a.service:exposure", "7.5"}, {"systemd:b.service:exposure", "4.0"},
		{"unavailable:nft", "nft not installed"}, {"selinux:mode", "permissive"},
	}
	got := Compare(old, cur, DefaultProfiles().Checks)
	want := []Change{
		{Key: "socket:tcp:0.0.0.0:22", Action: Removed, Old: "/usr/sbin/sshd", Severity: "alert"},
		{Key: "socket:tcp:0.0.0.0:8080", Action: Added, New: "/usr/bin/python3", Severity: "alert"},
		{Key: "sysctl:net.ipv4.ip_forward", Action: Changed, Old: "0", New: "1", Severity: "alert"},
		{Key: "systemd:a.service:exposure", Action: Changed, Old: "5.0", New: "7.5", Severity: "warning"},
		{Key: "systemd:b.service:exposure", Action: Changed, Old: "5.0", New: "4.0", Severity: "info"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Compare (-want +got): nft and selinux, unavailable on one side, must not appear\n%s", d)
	}
}

func TestSatisfies(t *testing.T) {
	for _, tc := range []struct {
		v, e string
		want bool
	}{
		{"2", "2", true}, {"1", "2", false}, {"1", ">= 1", true}, {"0", ">= 1", false},
		{"9.2", "<= 5.0", false}, {"4.1", "<= 5.0", true}, {Absent, "1 | absent", true},
		{"0", "1 | absent", false}, {"tmpfs rw,nosuid,nodev,noexec", "has nosuid,nodev,noexec", true},
		{"tmpfs rw,nosuid,nodev", "has nosuid,nodev,noexec", false}, {None, "none", true},
		{"x", "any", true}, {"abc", ">= 1", false},
	} {
		if got := Satisfies(tc.v, tc.e); got != tc.want {
			t.Errorf("Satisfies(%q, %q) = %v, want %v", tc.v, tc.e, got, tc.want)
		}
	}
}

func TestProfiles(t *testing.T) {
	p := DefaultProfiles()
	for _, name := range []string{"server", "workstation"} {
		checks, err := p.For(name)
		if err != nil || len(checks) < 20 {
			t.Errorf("For(%q) = %d checks, %v; want 20 or more", name, len(checks), err)
		}
		for _, c := range checks {
			if c.Why == "" || c.Sysctl+c.NixOS+c.Unit+c.Fix == "" || c.Severity == "" {
				t.Errorf("profile %s: check %q lacks why, a severity or a recommendation", name, c.ID)
			}
		}
	}
	if _, err := p.For("desktop"); err == nil {
		t.Errorf("For(desktop) = nil error, want ErrProfile")
	}
	more, err := ParseProfiles("extra.toml", []byte(`profiles = ["kiosk"]
[[check]]
id = "ip_forward"
key = "sysctl:net.ipv4.ip_forward"
severity = "critical"
expect = { all = "0", kiosk = "0" }
why = "w"
sysctl = "net.ipv4.ip_forward = 0"
`))
	if err != nil {
		t.Fatal(err)
	}
	ext := p.Extend(more)
	kiosk, err := ext.For("kiosk")
	i := slices.IndexFunc(kiosk, func(c Check) bool { return c.ID == "ip_forward" })
	if err != nil || i < 0 || kiosk[i].Severity != "critical" || kiosk[i].Expect["kiosk"] != "0" {
		t.Errorf("extended For(kiosk) = %d checks, %v; want the replaced ip_forward check (critical) among them", len(kiosk), err)
	}
	if slices.ContainsFunc(kiosk, func(c Check) bool { return c.ID == "kptr_restrict" }) {
		t.Errorf("extended For(kiosk) has kptr_restrict, which expects only server and workstation")
	}
	if len(ext.Checks) != len(p.Checks) {
		t.Errorf("Extend with a check of a known id: %d checks, want %d (replaced, not added)", len(ext.Checks), len(p.Checks))
	}
	for _, bad := range []string{`[[check]]
id = "x"
key = "k"
severity = "loud"
expect = { all = ">= many" }
`, `nonsense = 1`} {
		if _, err := ParseProfiles("bad.toml", []byte(bad)); err == nil {
			t.Errorf("ParseProfiles(%q) = nil error, want ErrProfile", bad)
		}
	}
	_, err = ParseProfiles("bad.toml", []byte("[[check]]\nid = \"x\"\nkey = \"k\"\nseverity = \"loud\"\nexpect = { all = \">= many\" }\n"))
	if err == nil || !strings.Contains(err.Error(), "loud") || !strings.Contains(err.Error(), "many") {
		t.Errorf("ParseProfiles: %v, want both problems reported", err)
	}
}

func TestProve(t *testing.T) {
	var items []Item
	for i := range 37 {
		items = append(items, Item{Key: "sysctl:k" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: "v"})
	}
	items = append(items, Item{Key: "mount:/tmp", Value: "tmpfs rw,nosuid"})
	Sort(items)
	root, err := Root(items)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		p, err := Prove(items, it.Key)
		if err != nil {
			t.Fatalf("Prove(%s): %v", it.Key, err)
		}
		if err := VerifyItem(p, root, it); err != nil {
			t.Errorf("VerifyItem(Prove(%s)): %v", it.Key, err)
		}
		if err := VerifyItem(p, root, Item{Key: it.Key, Value: it.Value + "x"}); err == nil {
			t.Errorf("VerifyItem of %s with another value = nil error", it.Key)
		}
	}
	p, _ := Prove(items, "mount:/tmp")
	if err := VerifyItem(p, merkle.Hash{1}, Item{"mount:/tmp", "tmpfs rw,nosuid"}); err == nil {
		t.Errorf("VerifyItem against another root = nil error")
	}
	if _, err := Prove(items, "nope"); err == nil {
		t.Errorf("Prove of a missing key = nil error")
	}
}
