package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/engine"
	"vigil/store"
)

// fullInfo sets every field a statement covers, with awkward values.
func fullInfo() store.Info {
	in := store.Info{
		ID: 42, Parent: 41, Created: time.Date(2026, 12, 6, 7, 8, 9, 123456789, time.UTC),
		Host: "host \"q\"\n\x01é", Roots: []string{"/etc", "/usr/odd \xff name"},
		ConfigDigest: "sha256:0123abcd", Phase: engine.PhaseHardened,
		Counts: store.Counts{Entries: 9, Files: 5, Dirs: 2, Symlinks: 1, Other: 1, Bytes: 1 << 40, Errors: 3,
			HashSkipped: 2, Unstable: 1},
		AuditSize: 17, AuditRoot: "c0ffee", Command: "reseal", Changes: 12, Reason: "upgrade\nsudo 1.9",
		User: "ops", UID: 1000, Version: "vigil 1.2 (abc)",
		Snapshots: []store.Snapshot{
			{Root: "/usr", Path: "/.snapshots/vigil 1", UUID: "u-1", OTransid: 7, CTransid: 8, LiveUUID: "l-1"},
			{Root: "/etc", Path: "/s", UUID: "u-2", OTransid: 1, CTransid: 2, LiveUUID: ""},
		},
		DevStats: []store.DevStats{{FSID: "f-1", DevID: 1, WriteErrs: 1, ReadErrs: 2, FlushErrs: 3, CorruptionErrs: 4, GenerationErrs: 5}},
	}
	for i := range in.Root {
		in.Root[i] = byte(i)
		in.PortableRoot[i] = byte(0xa0 + i)
	}
	return in
}

// TestParseStatement: a statement reads back into the fields it covers, for
// every form Statement writes.
func TestParseStatement(t *testing.T) {
	full := fullInfo()
	bare := store.Info{ID: 1, Created: time.Unix(0, 0).UTC(), Command: "seal"}
	noAudit := full
	noAudit.AuditSize, noAudit.AuditRoot, noAudit.Snapshots, noAudit.DevStats = 0, "", nil, nil
	noAudit.PortableRoot = store.RootHash{} // as a baseline taken before portable roots
	for name, in := range map[string]store.Info{"full": full, "bare": bare, "no audit log": noAudit} {
		text := engine.Statement(in)
		got, err := engine.ParseStatement(text)
		if err != nil {
			t.Errorf("%s: ParseStatement(%q): %v", name, text, err)
			continue
		}
		if d := cmp.Diff(in, got); d != "" {
			t.Errorf("%s: ParseStatement(Statement(in)) differs from in (-want +got):\n%s", name, d)
		}
	}
}

// TestParseStatementRefuses: a statement in any other spelling, with a
// line missing, added or out of place, is refused.
func TestParseStatementRefuses(t *testing.T) {
	text := engine.Statement(fullInfo())
	edit := func(old, new string) string {
		if !strings.Contains(text, old) {
			t.Fatalf("statement %q has no %q", text, old)
		}
		return strings.Replace(text, old, new, 1)
	}
	for name, bad := range map[string]string{
		"other header":       edit("statement v1", "statement v2"),
		"leading zero":       edit("\nbaseline 42\n", "\nbaseline 042\n"),
		"plus sign":          edit("\nparent 41\n", "\nparent +41\n"),
		"upper-case root":    edit("090a0b", "090A0b"),
		"short root":         edit("000102030405", "0001020304"),
		"short portable":     edit("portable a0a1a2", "portable a0a1"),
		"portable moved":     edit("\nportable ", "\nportable  "),
		"unquoted host":      edit(`host "host`, `host host`),
		"double space":       edit("entries=9 files", "entries=9  files"),
		"counts reordered":   edit("entries=9 files=5", "files=5 entries=9"),
		"missing line":       edit("phase hardened\n", ""),
		"unknown line":       edit("phase hardened\n", "phase hardened\nkey abc\n"),
		"line moved":         edit("config sha256:0123abcd\nphase hardened\n", "phase hardened\nconfig sha256:0123abcd\n"),
		"trailing line":      text + "extra\n",
		"no final newline":   strings.TrimSuffix(text, "\n"),
		"time not canonical": edit("07:08:09.123456789Z", "08:08:09.123456789+01:00"),
		"snapshot unquoted":  edit(`snapshot "/usr"`, `snapshot /usr`),
		"device short":       edit(" generation=5", ""),
		"empty":              "",
	} {
		if in, err := engine.ParseStatement(bad); err == nil {
			t.Errorf("%s: ParseStatement(%q) = %+v, want an error", name, bad, in)
		}
	}
}
