package config

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRemediation(t *testing.T) {
	c, err := Parse("r.toml", []byte(`roots = ["/etc", "/usr/bin"]
[[rule]]
paths = ["/etc/**"]
attributes = ["all"]
remediation = "exec"
remediation_command = ["/usr/local/sbin/quarantine", "--host", "web-1"]
remediation_timeout = "5s"
[[rule]]
paths = ["/usr/bin/**"]
attributes = ["all"]
remediation = "restore"
[[rule]]
paths = ["/etc/motd"]
ignore = ["content"]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Remediation{
		{Policy: RemediateExec, Command: []string{"/usr/local/sbin/quarantine", "--host", "web-1"}, Timeout: 5 * time.Second},
		{Policy: RemediateRestore},
		{},
	}
	var got []Remediation
	for _, r := range c.Rules {
		got = append(got, r.Remediation)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("remediations (-want +got):\n%s", diff)
	}
	// The last matching rule decides, as for attributes: /etc/motd's
	// rule says nothing, so it is alert only.
	m, err := c.Matcher()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/etc/passwd": 0, "/usr/bin/sudo": 1, "/etc/motd": 2, "/srv/x": -1} {
		if got := m.Rule(path); got != want {
			t.Errorf("Matcher.Rule(%q) = %d, want %d", path, got, want)
		}
	}
	if c.Rules[2].Remediation.Acts() || !c.Rules[0].Remediation.Acts() {
		t.Errorf("Acts: rule 2 (no remediation) = %v, rule 0 (exec) = %v; want false, true", c.Rules[2].Remediation.Acts(), c.Rules[0].Remediation.Acts())
	}
	// Remediation changes nothing a baseline holds: the digest stays.
	plain := mustParse(t, "roots = [\"/etc\", \"/usr/bin\"]\n[[rule]]\npaths = [\"/etc/**\"]\nattributes = [\"all\"]\n[[rule]]\npaths = [\"/usr/bin/**\"]\nattributes = [\"all\"]\n[[rule]]\npaths = [\"/etc/motd\"]\nignore = [\"content\"]\n")
	if got, want := c.Digest(), plain.Digest(); got != want {
		t.Errorf("Digest with remediation = %s, want that of the same rules without (%s)", got, want)
	}
}

func TestRemediationProblems(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"unknown policy", "remediation = \"delete\"\n",
			[]string{`r.toml:5: rule[0].remediation: "delete" is not a remediation: alert, exec or restore`}},
		{"exec without command", "remediation = \"exec\"\n",
			[]string{`r.toml:2: rule[0].remediation_command: remediation = "exec" needs an argv whose program is an absolute path, got []`}},
		{"relative program", "remediation = \"exec\"\nremediation_command = [\"quarantine\"]\n",
			[]string{`r.toml:6: rule[0].remediation_command: remediation = "exec" needs an argv whose program is an absolute path, got ["quarantine"]`}},
		{"command without exec", "remediation_command = [\"/bin/true\"]\nremediation_timeout = \"1s\"\n",
			[]string{`r.toml:5: rule[0].remediation_command: only for remediation = "exec"`, `r.toml:6: rule[0].remediation_timeout: only for remediation = "exec"`}},
		{"bad timeout", "remediation = \"exec\"\nremediation_command = [\"/bin/true\"]\nremediation_timeout = \"soon\"\n",
			[]string{`r.toml:7: rule[0].remediation_timeout: "soon" is not a duration such as "100ms" or "1h"`}},
		{"wrong type", "remediation = true\n",
			[]string{`r.toml:5: rule[0].remediation: has type boolean, want string`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "roots = [\"/etc\"]\n[[rule]]\npaths = [\"/etc/**\"]\nattributes = [\"all\"]\n" + tc.text
			_, err := Parse("r.toml", []byte(text))
			var got []string
			for _, e := range unwrapAll(err) {
				var p *Problem
				if errors.As(e, &p) {
					got = append(got, p.Error())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) problems (-want +got):\n%s", text, diff)
			}
		})
	}
}
