package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/merkle"
)

// TestPathPatterns: the table's patterns match the end of a path at a name
// boundary, under any root, and nothing else.
func TestPathPatterns(t *testing.T) {
	for _, tc := range []struct {
		path string
		tags []string
	}{
		{"/etc/cron.d/job", []string{"persistence"}},
		{"/var/lib/machines/web/etc/cron.d/job", []string{"persistence"}},
		{"/etc/cron.d", []string{"persistence"}}, // the directory itself: "**" matches no name
		{"/etc", nil},
		{"/etc/cron.d.bak/job", nil},
		{"/etc/xcron.d/job", nil},
		{"/etc/systemd/system/a/b/c.service", []string{"persistence"}},
		{"/usr/lib/systemd/system/sshd.service", []string{"persistence"}},
		{"/home/alice/.ssh/authorized_keys", []string{"persistence"}},
		{"/home/alice/.ssh/known_hosts", nil},
		{"/etc/ld.so.preload", []string{"loader_preload"}},
		{"/etc/shadow", []string{"credentials"}},
		{"/etc/shadow-", nil},
		{"/usr/lib/x86_64-linux-gnu/security/pam_unix.so", []string{"auth_config"}},
		{"/lib/modules/6.1.0/kernel/fs/btrfs.ko.xz", []string{"kernel_module"}},
	} {
		c := merkle.Change{Action: merkle.Deleted, Path: tc.path, Old: &merkle.Entry{Path: tc.path, Type: merkle.TypeFile, Perm: 0o644}}
		if got := Classify(c).Tags; !slices.Equal(got, tc.tags) {
			t.Errorf("Classify(deleted %s).Tags = %q, want %q", tc.path, got, tc.tags)
		}
	}
}

// TestMoveIntoPersistence: a file moved into /etc/cron.d is classified by
// its new path, and one moved out by its old one.
func TestMoveIntoPersistence(t *testing.T) {
	for _, tc := range [][2]string{{"/tmp/x", "/etc/cron.d/x"}, {"/etc/cron.d/x", "/tmp/x"}} {
		old := &merkle.Entry{Path: tc[0], Type: merkle.TypeFile, Perm: 0o644}
		n := *old
		n.Path = tc[1]
		c := merkle.Change{Action: merkle.Moved, Path: tc[1], Old: old, New: &n}
		if got := Classify(c); !slices.Equal(got.Tags, []string{"persistence"}) || len(got.Techniques) != 1 {
			t.Errorf("Classify(move %s -> %s) = %+v, want persistence with one technique", tc[0], tc[1], got)
		}
	}
}

// TestSeverityFollowsTable: in the hardened phase a change tied to a
// technique is critical and another one an alert; in the setup phase both
// are learning; a severity set before SetPhase is kept.
func TestSeverityFollowsTable(t *testing.T) {
	now := time.Unix(0, 0)
	cron := merkle.Change{Action: merkle.Created, Path: "/etc/cron.d/x", New: &merkle.Entry{Path: "/etc/cron.d/x", Type: merkle.TypeFile, Perm: 0o644}}
	motd := merkle.Change{Action: merkle.Created, Path: "/etc/motd", New: &merkle.Entry{Path: "/etc/motd", Type: merkle.TypeFile, Perm: 0o644}}
	for _, tc := range []struct {
		c      merkle.Change
		phase  string
		preset int
		want   int
	}{
		{cron, "hardened", 0, SeverityCritical},
		{cron, "hardened", SeverityAlert, SeverityCritical}, // as the watch sets it
		{cron, "setup", 0, SeverityLearning},
		{motd, "hardened", 0, SeverityAlert},
		{motd, "setup", SeverityAlert, SeverityLearning},
		{cron, "hardened", SeverityWarning, SeverityWarning}, // an override is kept
	} {
		ev := FromChange(tc.c, "h", now)
		ev.Event.Severity = tc.preset
		ev.SetPhase(tc.phase)
		if ev.Event.Severity != tc.want {
			t.Errorf("%s in phase %s (preset %d): severity %d, want %d", tc.c.Path, tc.phase, tc.preset, ev.Event.Severity, tc.want)
		}
	}
}

// TestAccountsNoSecrets: the account facts name accounts only; a password
// hash left in /etc/passwd (as old systems kept it) appears nowhere in the
// event.
func TestAccountsNoSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "passwd")
	const hash = "$6$salt$hashhashhash"
	data := "root:" + hash + ":0:0::/root:/bin/sh\n# comment\nbackdoor:" + hash + ":0:0::/:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	c := merkle.Change{Action: merkle.Updated, Path: p, Changed: merkle.AttrContent,
		Old: &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644}, New: &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644}}
	b, err := json.Marshal(FromChange(c, "h", time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hashhash") || !strings.Contains(string(b), `"accounts":{"uid0":["backdoor"]}`) {
		t.Errorf("event %s: want accounts.uid0 [backdoor] and no password hash", b)
	}
	// A symlink in place of the file is not followed.
	link := filepath.Join(dir, "group")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if a := ReadAccounts(link); a != nil {
		t.Errorf("ReadAccounts(symlink) = %+v, want nil", a)
	}
}

// BenchmarkClassify: the table's cost per change, for a deep path that no
// path row matches (every pattern is tried at every name) and one that a
// row does.
func BenchmarkClassify(b *testing.B) {
	for _, p := range []string{"/usr/share/doc/some-package/examples/config/sample.conf", "/etc/systemd/system/multi-user.target.wants/x.service"} {
		e := &merkle.Entry{Path: p, Type: merkle.TypeFile, Perm: 0o644}
		c := merkle.Change{Action: merkle.Updated, Path: p, Old: e, New: e, Changed: merkle.AttrContent}
		b.Run(filepath.Base(p), func(b *testing.B) {
			for b.Loop() {
				Classify(c)
			}
		})
	}
}
