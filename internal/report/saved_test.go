package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/alerts"
	"vigil/merkle"
)

// asAccepted splits c into the changes the engine asks Options.Accept
// about: a move is a creation and a deletion.
func asAccepted(c merkle.Change) []merkle.Change {
	if c.Action != merkle.Moved {
		return []merkle.Change{c}
	}
	return []merkle.Change{
		{Action: merkle.Created, Path: c.New.Path, New: c.New},
		{Action: merkle.Deleted, Path: c.Old.Path, Old: c.Old},
	}
}

// TestReadSavedRoundTrip: every change the JSON writer reported is
// accepted in the state it was reported in, and nothing is left over.
func TestReadSavedRoundTrip(t *testing.T) {
	out := writeSample(t, Options{JSON: true, Host: "h", Phase: "hardened", Now: fixedNow})
	s, err := ReadSaved(strings.NewReader(out))
	if err != nil {
		t.Fatalf("ReadSaved(the writer's sample) = %v", err)
	}
	if s.Summary.OldRoot != sampleSummary().OldRoot || !slices.Equal(s.Summary.Scope, sampleSummary().Scope) {
		t.Errorf("ReadSaved summary = %+v, want %+v", s.Summary, sampleSummary())
	}
	n := 0
	for _, c := range sampleChanges() {
		for _, a := range asAccepted(c) {
			n++
			if ok, err := s.Accept(a); !ok || err != nil {
				t.Errorf("Accept(%v %s) = %v, %v; want true, nil", a.Action, a.Path, ok, err)
			}
		}
	}
	if s.Len() != n {
		t.Errorf("Len() = %d, want %d (a move counts twice)", s.Len(), n)
	}
	if got := s.Unmatched(); len(got) != 0 {
		t.Errorf("Unmatched() = %q after every change was accepted, want none", got)
	}
}

// TestSavedAccept: a change not listed is turned down, one listed in
// another state is refused as stale, one not yet accepted is unmatched.
func TestSavedAccept(t *testing.T) {
	out := writeSample(t, Options{JSON: true, Now: fixedNow})
	s, err := ReadSaved(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	other := merkle.Change{Action: merkle.Created, Path: "/etc/unlisted", New: file("/etc/unlisted")}
	if ok, err := s.Accept(other); ok || err != nil {
		t.Errorf("Accept(unlisted creation) = %v, %v; want false, nil", ok, err)
	}
	again := changed(merkle.Updated, file("/etc/passwd"), func(e *merkle.Entry) { e.Hash[0], e.Size = 2, 130 })
	ok, err := s.Accept(again)
	if ok || !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "/etc/passwd") {
		t.Errorf("Accept(/etc/passwd in another state) = %v, %v; want false and ErrStale naming it", ok, err)
	}
	if got := s.Unmatched(); !slices.Contains(got, "/etc/passwd") || !slices.IsSorted(got) {
		t.Errorf("Unmatched() = %q, want it sorted and holding /etc/passwd", got)
	}
}

// TestReadSavedReal reads a report of the real 'vigil check --json' (a
// change of every kind, a name that is not UTF-8).
func TestReadSavedReal(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "saved", "check.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSaved(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadSaved(check.ndjson) = %v", err)
	}
	// 4 modified, a move (created + deleted), a creation, a deletion.
	if s.Len() != 8 || s.Summary.ExitCode != 7 {
		t.Errorf("ReadSaved(check.ndjson) = %d changes, exit code %d; want 8, 7", s.Len(), s.Summary.ExitCode)
	}
	if got := s.Unmatched(); !slices.ContainsFunc(got, func(p string) bool { return strings.HasSuffix(p, "/etc/new\xffname") }) {
		t.Errorf("Unmatched() = %q, want the exact bytes of etc/new\\xffname", got)
	}
}

func TestReadSavedRefuses(t *testing.T) {
	good := writeSample(t, Options{JSON: true, Now: fixedNow})
	lines := strings.SplitAfter(good, "\n")
	summary := lines[len(lines)-2]
	tests := []struct{ name, in, want string }{
		{"empty", "", "no summary"},
		{"not JSON", "hello\n" + summary, "line 1"},
		{"a configuration", "database = \"x\"\n", "line 1"},
		{"no summary", strings.Join(lines[:len(lines)-2], ""), "no summary"},
		{"a line after the summary", good + lines[0], "line 14: "},
		{"the summary of an update", strings.Replace(summary, `"command":"check"`, `"command":"update"`, 1), "no summary"},
		{"no old root", strings.Replace(summary, `"old_root"`, `"x"`, 1), "no summary"},
		{"unknown action", `{"event":{"action":"chmod"},"file":{"path":"/x"}}` + "\n" + summary, `unknown event.action "chmod"`},
		{"a change without a file", `{"event":{"action":"created"}}` + "\n" + summary, "without a file"},
		{"moved without previous", `{"event":{"action":"moved"},"file":{"path":"/x"}}` + "\n" + summary, "without vigil.previous"},
		{"bad base64", `{"event":{"action":"created"},"file":{"path":"/x"},"vigil":{"path_base64":"!!"}}` + "\n" + summary, "path_base64"},
		{"a line too long", `{"event":{"action":"created"},"file":{"path":"` + strings.Repeat("a", MaxLine) + `"}}` + "\n" + summary, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadSaved(strings.NewReader(tt.in))
			if !errors.Is(err, ErrNotReport) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadSaved = %v, %v; want ErrNotReport saying %q", s, err, tt.want)
			}
		})
	}
}

// FuzzReadSaved: ReadSaved never panics, refuses only with ErrNotReport,
// keeps at most two states per line; and a report the JSON writer wrote
// about an entry of any name reads back with every change accepted.
func FuzzReadSaved(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "saved", "check.ndjson"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, "passwd")
	f.Add([]byte(writeSample(f, Options{JSON: true, Now: fixedNow})), "a\nb\xff")
	f.Add([]byte("{}\n"), " -> (x)")
	f.Fuzz(func(t *testing.T, in []byte, name string) {
		s, err := ReadSaved(bytes.NewReader(in))
		switch {
		case err != nil && !errors.Is(err, ErrNotReport):
			t.Fatalf("ReadSaved(%q) = %v, want ErrNotReport", in, err)
		case err == nil && s.Len() > 2*(bytes.Count(in, []byte("\n"))+1):
			t.Fatalf("ReadSaved(%q) holds %d states, more than two per line", in, s.Len())
		case err == nil && (s.Summary.Command != "check" || s.Summary.OldRoot == ""):
			t.Fatalf("ReadSaved(%q) accepted summary %+v", in, s.Summary)
		}
		roundTrip(t, name)
	})
}

// roundTrip writes one change of each kind about entries named name, a
// scan error and a trust finding, and reads them back.
func roundTrip(t *testing.T, name string) {
	name = strings.ReplaceAll(name, "/", "_")
	var buf bytes.Buffer
	w := New(&buf, Options{JSON: true, Now: fixedNow})
	mod := changed(merkle.Updated, file("/m/"+name), func(e *merkle.Entry) { e.Hash[0], e.Target = 1, name })
	mv := changed(merkle.Moved, file("/o/"+name), func(e *merkle.Entry) { e.Path = "/n/" + name })
	mv.Path = mv.New.Path
	changes := []merkle.Change{
		{Action: merkle.Created, Path: "/c/" + name, New: symlink("/c/"+name, name)},
		{Action: merkle.Deleted, Path: "/d/" + name, Old: file("/d/" + name)},
		mod, mv,
	}
	for _, c := range changes {
		if err := w.Change(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Error("/e/"+name, errors.New(name)); err != nil {
		t.Fatal(err)
	}
	finding := alerts.TrustFinding("checkpoint_behind", errors.New(name), false, "h", now)
	if err := w.Event(finding, name); err != nil {
		t.Fatal(err)
	}
	if err := w.Summary(sampleSummary()); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSaved(&buf)
	if err != nil {
		t.Fatalf("ReadSaved of the writer's report about %q: %v", name, err)
	}
	for _, c := range changes {
		for _, a := range asAccepted(c) {
			if ok, err := s.Accept(a); !ok || err != nil {
				t.Fatalf("name %q: Accept(%v %q) = %v, %v; want true, nil", name, a.Action, a.Path, ok, err)
			}
		}
	}
	if got := s.Unmatched(); len(got) != 0 {
		t.Fatalf("name %q: Unmatched() = %q, want none", name, got)
	}
}
