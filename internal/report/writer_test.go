package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"vigil/internal/progress"

	"github.com/google/go-cmp/cmp"

	"vigil/alerts"
	"vigil/merkle"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2025, 3, 1, 12, 30, 45, 0, time.UTC)

func fixedNow() time.Time { return now }

func file(path string) *merkle.Entry {
	return &merkle.Entry{
		Path: path, Type: merkle.TypeFile, Perm: 0o644, Size: 100, Mtime: 1e18, Ctime: 1e18,
		Inode: 10, Nlink: 1, HashState: merkle.HashOK, Attrs: merkle.AttrAll,
	}
}

func symlink(path, target string) *merkle.Entry {
	e := file(path)
	e.Type, e.Target, e.HashState = merkle.TypeSymlink, target, merkle.HashNone
	return e
}

// changed returns a change from old to a copy of it modified by edit.
func changed(a merkle.Action, old *merkle.Entry, edit func(*merkle.Entry)) merkle.Change {
	cur := *old
	edit(&cur)
	return merkle.Change{Action: a, Path: cur.Path, Old: old, New: &cur, Changed: merkle.Compare(old, &cur)}
}

func sampleChanges() []merkle.Change {
	return []merkle.Change{
		{Action: merkle.Created, Path: "/etc/cron.d/job", New: symlink("/etc/cron.d/job", "/tmp/payload")},
		{Action: merkle.Created, Path: "/etc/new.conf", New: file("/etc/new.conf")},
		{Action: merkle.Deleted, Path: "/etc/old.conf", Old: file("/etc/old.conf")},
		changed(merkle.Updated, file("/etc/passwd"), func(e *merkle.Entry) {
			e.Hash[0], e.Size, e.Mtime, e.Ctime = 1, 120, 2e18, 2e18
		}),
		changed(merkle.Updated, file("/etc/motd"), func(e *merkle.Entry) {
			e.Type, e.Target, e.HashState = merkle.TypeSymlink, "/dev/null", merkle.HashNone
		}),
		changed(merkle.AttributesModified, file("/usr/bin/sudo"), func(e *merkle.Entry) {
			e.Perm, e.UID, e.Ctime = 0o4755, 1000, 2e18
		}),
		changed(merkle.AttributesModified, file("/etc/hosts"), func(e *merkle.Entry) {
			e.Xattrs = []merkle.Xattr{{Name: "user.x", Value: []byte("1")}}
			e.HasFlags, e.Flags, e.Nlink, e.Inode = true, 0x10, 2, 11
		}),
		changed(merkle.Updated, file("/var/log/big"), func(e *merkle.Entry) {
			e.HashState, e.Size = merkle.HashUnstable, 200
		}),
		changed(merkle.Updated, file("/etc/shadow"), func(e *merkle.Entry) {
			e.HashState, e.Err = merkle.HashFailed, "read /etc/shadow: input/output error"
		}),
		func() merkle.Change {
			c := changed(merkle.Moved, file("/etc/a"), func(e *merkle.Entry) { e.Path, e.Ctime = "/etc/.a", 2e18 })
			c.Path = "/etc/.a"
			return c
		}(),
	}
}

func sampleSummary() alerts.Summary {
	return alerts.Summary{
		Command: "check", Entries: 15230, Added: 2, Removed: 1, Changed: 6, Moved: 1, Errors: 2,
		Hashed: 120, BytesHashed: 7<<20 + 1<<19, Duration: 2345678 * time.Microsecond, ExitCode: 1,
		OldRoot: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		NewRoot: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
		Scope:   []string{"/etc", "/usr/bin"},
	}
}

// writeSample writes the sample report with opts and returns the output.
func writeSample(t testing.TB, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	w := New(&buf, opts)
	for _, c := range sampleChanges() {
		if err := w.Change(c); err != nil {
			t.Fatalf("Change(%v %s): %v", c.Action, c.Path, err)
		}
	}
	errs := []struct {
		path string
		err  error
	}{
		{"/root/.ssh", &fs.PathError{Op: "open", Path: "/root/.ssh", Err: syscall.EACCES}},
		{"/proc/x", errors.New("walk: too many levels")},
	}
	for _, e := range errs {
		if err := w.Error(e.path, e.err); err != nil {
			t.Fatalf("Error(%s): %v", e.path, err)
		}
	}
	if err := w.Summary(sampleSummary()); err != nil {
		t.Fatalf("Summary: %v", err)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(got, "\n"), strings.Split(string(want), "\n")); diff != "" {
		t.Errorf("output differs from %s (-got +want):\n%s", file, diff)
	}
}

func TestHumanGolden(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"human.golden", Options{}},
		{"color.golden", Options{Color: true}},
		// AIDE-style detail lines: old -> new for each changed attribute.
		{"verbose.golden", Options{Verbose: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { golden(t, tt.name, writeSample(t, tt.opts)) })
	}
}

func TestJSON(t *testing.T) {
	out := writeSample(t, Options{JSON: true, Host: "web-1", Now: fixedNow})
	golden(t, "report.ndjson", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var got []string
	for _, l := range lines {
		var ev alerts.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if ev.Host == nil || ev.Host.Name != "web-1" || !ev.Timestamp.Equal(now) {
			t.Errorf("line %q: host %+v, time %v; want web-1 at %v", l, ev.Host, ev.Timestamp, now)
		}
		got = append(got, ev.Event.Action)
	}
	want := []string{"created", "created", "deleted", "updated", "updated", "attributes_modified",
		"attributes_modified", "updated", "updated", "moved", "scan_error", "scan_error", "summary"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("actions of the NDJSON lines (-got +want):\n%s", diff)
	}
}

func TestJSONNoHTMLEscape(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, Options{JSON: true})
	if err := w.Change(merkle.Change{Action: merkle.Created, Path: "/tmp/<a&b>", New: file("/tmp/<a&b>")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"path":"/tmp/<a&b>"`) {
		t.Errorf("JSON line = %s, want the path unescaped", buf.String())
	}
}

func TestHostileNames(t *testing.T) {
	tests := []struct {
		name, path, target, want string
	}{
		{"plain", "/etc/x", "", "/etc/x"},
		{"unicode", "/tmp/日本", "", "/tmp/日本"},
		{"space", "/tmp/a b", "", "/tmp/a b"},
		{"newline", "/tmp/a\nb", "", `"/tmp/a\nb"`},
		{"carriage return", "/tmp/a\rb", "", `"/tmp/a\rb"`},
		{"tab", "/tmp/a\tb", "", `"/tmp/a\tb"`},
		{"escape", "/tmp/\x1b[2J\x1b]0;pwned\x07", "", `"/tmp/\x1b[2J\x1b]0;pwned\a"`},
		{"invalid utf-8", "/tmp/\xff\xfe", "", `"/tmp/\xff\xfe"`},
		{"c1 csi", "/tmp/\u009b31m", "", `"/tmp/\u009b31m"`},
		{"bidi override", "/tmp/\u202egpj.sh", "", `"/tmp/\u202egpj.sh"`},
		{"delete", "/tmp/a\x7f", "", `"/tmp/a\x7f"`},
		{"fake arrow", "/tmp/a -> /etc/b", "", `"/tmp/a -> /etc/b"`},
		{"fake note", "/tmp/a (hash skipped)", "", `"/tmp/a (hash skipped)"`},
		{"hostile target", "/tmp/l", "x\n\x1b[0m", `/tmp/l -> "x\n\x1b[0m"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := file(tt.path)
			if tt.target != "" {
				e = symlink(tt.path, tt.target)
			}
			var buf bytes.Buffer
			if err := New(&buf, Options{}).Change(merkle.Change{Action: merkle.Created, Path: tt.path, New: e}); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			if !strings.HasSuffix(got, " "+tt.want+"\n") {
				t.Errorf("line for %q = %q, want it to end in %q", tt.path, got, " "+tt.want+"\n")
			}
			if n := strings.Count(got, "\n"); n != 1 || strings.ContainsRune(got, '\x1b') {
				t.Errorf("line for %q = %q: %d newlines, want one and no ESC", tt.path, got, n)
			}
		})
	}
}

func TestHostileError(t *testing.T) {
	var buf bytes.Buffer
	path := "/tmp/\x1b[31m"
	err := &fs.PathError{Op: "open", Path: "/other\n", Err: syscall.EIO}
	if err := New(&buf, Options{}).Error(path, err); err != nil {
		t.Fatal(err)
	}
	want := `!               error        "/tmp/\x1b[31m": "open /other\n: input/output error"` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("Error(%q, %v) wrote %q, want %q", path, err, got, want)
	}
}

func TestColor(t *testing.T) {
	tests := []struct {
		name   string
		action merkle.Action
		want   string
	}{
		{"created", merkle.Created, green},
		{"deleted", merkle.Deleted, red},
		{"updated", merkle.Updated, yellow},
		{"attributes_modified", merkle.AttributesModified, yellow},
		{"moved", merkle.Moved, cyan},
	}
	for _, tt := range tests {
		old, cur := file("/tmp/\x1b[0m"), file("/tmp/\x1b[0m")
		cur.Perm = 0o600
		c := merkle.Change{Action: tt.action, Path: cur.Path, Old: old, New: cur, Changed: merkle.AttrMode}
		for _, colour := range []bool{false, true} {
			var buf bytes.Buffer
			if err := New(&buf, Options{Color: colour}).Change(c); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			plain := got
			if colour {
				if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, reset+"\n") {
					t.Errorf("%s with colour = %q, want it wrapped in %q ... %q", tt.name, got, tt.want, reset)
				}
				plain = strings.TrimSuffix(strings.TrimPrefix(got, tt.want), reset+"\n")
			}
			if strings.ContainsRune(plain, '\x1b') {
				t.Errorf("%s, colour %v: %q holds an escape sequence of its own", tt.name, colour, got)
			}
		}
	}
}

func TestErrorColor(t *testing.T) {
	var buf bytes.Buffer
	if err := New(&buf, Options{Color: true}).Error("/x", errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.HasPrefix(got, boldRed+"! ") || !strings.HasSuffix(got, ": boom"+reset+"\n") {
		t.Errorf("Error with colour = %q, want it in bold red", got)
	}
}

func TestSummaryAlone(t *testing.T) {
	var buf bytes.Buffer
	s := alerts.Summary{Command: "init", Entries: 1, Hashed: 1, BytesHashed: 512, Duration: 1500 * time.Microsecond,
		NewRoot: "abcdef0123456789abcdef"}
	if err := New(&buf, Options{}).Summary(s); err != nil {
		t.Fatal(err)
	}
	want := "init: 1 entry, 0 added, 0 removed, 0 changed, 0 moved, 0 errors\n" +
		"hashed 1 file (512 B) in 1.5ms\n" +
		"root abcdef0123456789\n"
	if got := buf.String(); got != want {
		t.Errorf("Summary(%+v) wrote\n%q, want\n%q", s, got, want)
	}
}

var errWrite = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteErrors(t *testing.T) {
	c := sampleChanges()[0]
	for _, opts := range []Options{{}, {JSON: true}} {
		w := New(failWriter{}, opts)
		calls := map[string]error{
			"Change":  w.Change(c),
			"Error":   w.Error("/x", errors.New("x")),
			"Summary": w.Summary(alerts.Summary{}),
		}
		for name, err := range calls {
			if !errors.Is(err, errWrite) {
				t.Errorf("JSON %v: %s on a failing writer = %v, want %v", opts.JSON, name, err, errWrite)
			}
		}
	}
}

func TestLetters(t *testing.T) {
	if len(attrLetters) != attrWidth {
		t.Errorf("len(attrLetters) = %d, want one per merkle attribute, %d", len(attrLetters), attrWidth)
	}
}

func TestIEC(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 62, "4.0 EiB"},
	}
	for _, tt := range tests {
		if got := progress.IEC(tt.n); got != tt.want {
			t.Errorf("progress.IEC(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestVerboseCapabilities: --verbose shows security.capability as getcap
// prints it, old and new (the value setcap cap_setuid=ep wrote on this
// machine), other extended attributes in hex, and flags as lsattr does.
func TestVerboseCapabilities(t *testing.T) {
	caps := []byte("\x01\x00\x00\x02\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	c := changed(merkle.AttributesModified, file("/usr/bin/ping"), func(e *merkle.Entry) {
		e.Xattrs = []merkle.Xattr{{Name: "security.capability", Value: caps}, {Name: "user.x", Value: []byte("1")}}
		e.HasFlags, e.Flags = true, 0x00080010
	})
	c.Old.HasFlags, c.Old.Flags = true, 0x00080000
	c.Changed = merkle.Compare(c.Old, c.New)
	var b strings.Builder
	w := New(&b, Options{Verbose: true})
	if err := w.Change(c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"/usr/bin/ping (security: capabilities_changed, immutable_changed; ATT&CK T1222.002)\n",
		"    xattrs   [] -> [security.capability=\"cap_setuid=ep\" user.x=31]\n",
		"    flags    --------------e------- -> ----i---------e-------\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("verbose report\n%s\nlacks %q", b.String(), want)
		}
	}
}
