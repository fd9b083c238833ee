package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/internal/engine"
	"vigil/store"
)

// TestStatementNix: a baseline with a Nix tree signs its root and count on
// a "nix" line, which reads back; a baseline without one keeps the very
// statement it had before the line existed.
func TestStatementNix(t *testing.T) {
	bare := store.Info{ID: 1, Created: time.Unix(0, 0).UTC(), Command: "seal"}
	const old = "vigil baseline statement v1\nhost \"\"\nbaseline 1\nparent 0\ncreated 1970-01-01T00:00:00Z\n" +
		"root 0000000000000000000000000000000000000000000000000000000000000000\nconfig \nphase \n" +
		"counts entries=0 files=0 dirs=0 symlinks=0 other=0 bytes=0 errors=0 hash_skipped=0 unstable=0\n" +
		"audit 0 \ncommand seal\nchanges 0\nreason \"\"\nuser \"\"\nuid 0\nversion \"\"\n"
	if got := engine.Statement(bare); got != old {
		t.Errorf("Statement(a baseline without a Nix tree) = %q, want the old text %q", got, old)
	}
	in := fullInfo()
	in.Posture = &store.Posture{Root: store.RootHash{7}}
	in.Nix = &store.NixTree{Root: store.RootHash{0xab, 0xcd}, Paths: 123456}
	text := engine.Statement(in)
	if !strings.HasSuffix(text, "\nnix abcd"+strings.Repeat("00", 30)+" paths=123456\n") {
		t.Errorf("Statement(with a Nix tree) ends %q, want the nix line last", text[strings.LastIndex(text[:len(text)-1], "\n"):])
	}
	in.Posture.Items = []store.PostureItem{} // not in the statement
	got, err := engine.ParseStatement(text)
	if err != nil {
		t.Fatalf("ParseStatement(%q): %v", text, err)
	}
	in.Posture.Items = nil
	if d := cmp.Diff(in, got); d != "" {
		t.Errorf("ParseStatement(Statement(in)) differs (-want +got):\n%s", d)
	}
	for name, bad := range map[string]string{
		"short root":     strings.Replace(text, "nix abcd00", "nix abcd", 1),
		"paths spelt":    strings.Replace(text, "paths=123456", "paths=0123456", 1),
		"no paths":       strings.Replace(text, " paths=123456", "", 1),
		"upper hex":      strings.Replace(text, "nix abcd", "nix ABCD", 1),
		"before posture": strings.Replace(strings.Replace(text, "\nposture ", "\nXX ", 1), "\nnix ", "\nposture ", 1),
	} {
		if _, err := engine.ParseStatement(bad); err == nil {
			t.Errorf("ParseStatement(%s) = nil error, want one", name)
		}
	}
}
