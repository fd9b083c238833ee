package alerts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"vigil/merkle"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	now  = time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	host = "web-1"
)

// ns returns a fixed time in ns since the epoch, minutes after a base.
func ns(min int) int64 {
	return time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(min)*time.Minute + 17).UnixNano()
}

func hashOf(b byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func passwd() *merkle.Entry {
	return &merkle.Entry{
		Path: "/etc/passwd", Type: merkle.TypeFile, Perm: 0o644, Size: 1234,
		Mtime: ns(0), Ctime: ns(1), Inode: 131, Nlink: 1, Dev: 2049,
		Hash: hashOf(1), HashState: merkle.HashOK, Attrs: merkle.AttrAll,
		HasFlags: true,
	}
}

// goldenChanges are the changes whose events are kept in testdata/<name>.json.
func goldenChanges() map[string]merkle.Change {
	updated := passwd()
	updated.Size, updated.Mtime, updated.Ctime, updated.Hash = 1300, ns(10), ns(10), hashOf(9)

	sudo := &merkle.Entry{
		Path: "/usr/bin/sudo", Type: merkle.TypeFile, Perm: 0o755, Size: 232416,
		Mtime: ns(-500), Ctime: ns(-500), Inode: 4242, Nlink: 1, UID: 0, GID: 0,
		Hash: hashOf(40), HashState: merkle.HashOK, Attrs: merkle.AttrAll,
		HasFlags: true, Flags: 0x80000,
	}
	setuid := *sudo
	setuid.Perm, setuid.Ctime = 0o4755, ns(20)

	link := &merkle.Entry{
		Path: "/etc/cron.d/job", Type: merkle.TypeSymlink, Perm: 0o777, UID: 1000, GID: 1000,
		Size: 12, Mtime: ns(2), Ctime: ns(2), Inode: 99, Nlink: 1, Target: "/tmp/payload",
		Attrs: merkle.AttrAll,
	}
	moved := *link
	moved.Path, moved.Ctime = "/etc/cron.d/.job", ns(30)

	shadow := &merkle.Entry{
		Path: "/etc/shadow", Type: merkle.TypeFile, Perm: 0o640, GID: 42, Size: 900,
		Mtime: ns(3), Ctime: ns(3), Inode: 132, Nlink: 1,
		Xattrs:    []merkle.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:shadow_t:s0\x00")}},
		HashState: merkle.HashFailed, Err: "read /etc/shadow: input/output error",
		Attrs: merkle.AttrAll,
	}
	return map[string]merkle.Change{
		"created": {Action: merkle.Created, Path: link.Path, New: link},
		"deleted": {Action: merkle.Deleted, Path: shadow.Path, Old: shadow},
		"updated": {Action: merkle.Updated, Path: updated.Path, Old: passwd(), New: updated,
			Changed: merkle.Compare(passwd(), updated)},
		"attributes_modified": {Action: merkle.AttributesModified, Path: sudo.Path, Old: sudo, New: &setuid,
			Changed: merkle.Compare(sudo, &setuid)},
		"moved": {Action: merkle.Moved, Path: moved.Path, Old: link, New: &moved,
			Changed: merkle.Compare(link, &moved)},
	}
}

func goldenEvents() map[string]Event {
	out := map[string]Event{}
	for name, c := range goldenChanges() {
		out[name] = FromChange(c, host, now)
	}
	perr := &fs.PathError{Op: "open", Path: "/root/.ssh", Err: syscall.EACCES}
	out["scan_error"] = ScanError("/root/.ssh", perr, host, now)
	alert := FromChange(goldenChanges()["updated"], host, now) // not out's: SetPhase changes vigil
	alert.SetID("1:ab")
	alert.SetPhase("hardened")
	exit := 3
	failed := Remediated(&alert, RemediationInfo{Policy: "exec"}, errors.New("exit status 3"), 1500*time.Millisecond, now)
	failed.Process = &Process{Executable: "/usr/local/sbin/quarantine", Args: []string{"/usr/local/sbin/quarantine", "--host", "web-1"}, ExitCode: &exit}
	out["remediation_failed"] = failed
	out["remediation_restored"] = Remediated(&alert, RemediationInfo{Policy: "restore", Source: "/.snapshots/sealed-1", Hash: "0102"}, nil, 20*time.Millisecond, now)
	out["summary"] = SummaryEvent(Summary{
		Command: "check", Entries: 15230, Added: 1, Removed: 1, Changed: 2, Moved: 1,
		Errors: 1, Hashed: 120, BytesHashed: 7 << 20,
		OldRoot:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		NewRoot:  "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
		Duration: 2*time.Second + 345*time.Millisecond, ExitCode: 1,
		Scope: []string{"/etc", "/usr/bin"},
	}, host, now)
	return out
}

// asMap marshals v and parses it back into generic JSON values.
func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", b, err)
	}
	return m
}

func TestGolden(t *testing.T) {
	for name, ev := range goldenEvents() {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", name+".json")
			if *update {
				b, err := json.MarshalIndent(ev, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wantMap map[string]any
			if err := json.Unmarshal(want, &wantMap); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if diff := cmp.Diff(asMap(t, ev), wantMap); diff != "" {
				t.Errorf("event for %s differs from %s (-got +want):\n%s", name, file, diff)
			}
		})
	}
}

// TestDecode checks that events survive a JSON round trip unchanged but for
// the summary's duration, which lives in event.duration.
func TestDecode(t *testing.T) {
	for name, ev := range goldenEvents() {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", name, err)
		}
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: json.Unmarshal(%s): %v", name, b, err)
		}
		if ev.Vigil != nil && ev.Vigil.Summary != nil {
			want := *ev.Vigil.Summary
			want.Duration = 0
			ev.Vigil = &Vigil{Summary: &want}
		}
		if diff := cmp.Diff(got, ev); diff != "" {
			t.Errorf("%s: decoded event differs (-got +want):\n%s", name, diff)
		}
	}
}

func TestFieldRules(t *testing.T) {
	evs := goldenEvents()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"timestamp is UTC", evs["created"].Timestamp.Location(), time.UTC},
		{"created has no previous", evs["created"].Vigil.Previous, (*Previous)(nil)},
		{"deleted describes the old entry", evs["deleted"].File.Path, "/etc/shadow"},
		{"deleted error message", evs["deleted"].Error.Message, "read /etc/shadow: input/output error"},
		{"deleted has no hash", evs["deleted"].File.Hash, (*FileHash)(nil)},
		{"move keeps the old path", evs["moved"].Vigil.Previous.Path, "/etc/cron.d/job"},
		{"update omits the unchanged path", evs["updated"].Vigil.Previous.Path, ""},
		{"setuid mode", evs["attributes_modified"].File.Mode, "4755"},
		{"no host when empty", FromChange(goldenChanges()["created"], "", now).Host, (*Host)(nil)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.got, tt.want, cmp.Comparer(func(a, b *time.Location) bool { return a == b })); diff != "" {
			t.Errorf("%s (-got +want):\n%s", tt.name, diff)
		}
	}
}

func TestLstatFailure(t *testing.T) {
	e := &merkle.Entry{Path: "/etc/gone", Err: "lstat /etc/gone: permission denied"}
	got := asMap(t, FromChange(merkle.Change{Action: merkle.Created, Path: e.Path, New: e}, "", now))
	want := map[string]any{"path": "/etc/gone", "type": "unknown"}
	if diff := cmp.Diff(got["file"], any(want)); diff != "" {
		t.Errorf("file of an entry whose lstat failed (-got +want):\n%s", diff)
	}
}

func TestScanErrorNil(t *testing.T) {
	ev := ScanError("/x", nil, "", now)
	if ev.Error != nil {
		t.Errorf("ScanError(\"/x\", nil).Error = %+v, want nil", ev.Error)
	}
	if ev.Event.Outcome != "failure" || ev.Event.Action != "scan_error" {
		t.Errorf("ScanError event = %+v, want outcome failure, action scan_error", ev.Event)
	}
}

// decodeFile marshals ev and returns the parsed JSON and the raw bytes.
func decodeFile(t *testing.T, ev Event) (Event, []byte) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	return got, b
}

func unbase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return string(b)
}

func TestInvalidUTF8(t *testing.T) {
	oldPath, newPath, target := "/tmp/\xc3", "/tmp/bad\xff\xfename", "\x80payload"
	old := &merkle.Entry{Path: oldPath, Type: merkle.TypeSymlink, Inode: 7, Target: target}
	cur := *old
	cur.Path = newPath
	ev := FromChange(merkle.Change{Action: merkle.Moved, Path: newPath, Old: old, New: &cur}, host, now)
	got, raw := decodeFile(t, ev)
	if !utf8.Valid(raw) {
		t.Errorf("JSON is not valid UTF-8: %q", raw)
	}
	checks := []struct{ name, got, want string }{
		{"file.path", got.File.Path, "/tmp/bad\uFFFD\uFFFDname"},
		{"vigil.path_base64", unbase64(t, got.Vigil.PathBase64), newPath},
		{"file.target_path", got.File.TargetPath, "\uFFFDpayload"},
		{"vigil.target_path_base64", unbase64(t, got.Vigil.TargetPathBase64), target},
		{"vigil.previous.path", got.Vigil.Previous.Path, "/tmp/\uFFFD"},
		{"vigil.previous.path_base64", unbase64(t, got.Vigil.Previous.PathBase64), oldPath},
		{"scan_error path_base64", unbase64(t, ScanError(newPath, errors.New("x"), "", now).Vigil.PathBase64), newPath},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestValidUTF8HasNoBase64(t *testing.T) {
	// A name that holds U+FFFD itself is valid UTF-8 and needs no base64.
	for _, p := range []string{"/tmp/a\nb", "/tmp/\x1b[31mred", "/tmp/\uFFFD", "/tmp/日本"} {
		e := &merkle.Entry{Path: p, Type: merkle.TypeFile, Inode: 3}
		got, raw := decodeFile(t, FromChange(merkle.Change{Action: merkle.Created, Path: p, New: e}, "", now))
		if got.File.Path != p {
			t.Errorf("file.path of %q decodes to %q", p, got.File.Path)
		}
		if got.Vigil != nil && got.Vigil.PathBase64 != "" {
			t.Errorf("%q: vigil.path_base64 = %q, want none", p, got.Vigil.PathBase64)
		}
		if n := bytes.Count(raw, []byte("\n")) + bytes.Count(raw, []byte("\x1b")); n != 0 {
			t.Errorf("%q: JSON holds %d raw newline or ESC bytes: %q", p, n, raw)
		}
	}
}
