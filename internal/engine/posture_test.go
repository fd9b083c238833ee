package engine

import (
	"strings"
	"testing"
	"time"

	"vigil/store"
)

// TestStatementPosture: the posture root is one more line of the signed
// statement, parsed back; a baseline without a posture keeps the
// statement it had.
func TestStatementPosture(t *testing.T) {
	in := store.Info{ID: 3, Parent: 2, Host: "h", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Roots: []string{"/etc"},
		ConfigDigest: "c", Phase: PhaseHardened, Command: "seal"}
	plain := Statement(in)
	if strings.Contains(plain, "posture") {
		t.Errorf("Statement without a posture = %q, want no posture line", plain)
	}
	in.Posture = &store.Posture{Root: store.RootHash{1, 2, 3}, Items: []store.PostureItem{{Key: "k", Value: "v"}}}
	text := Statement(in)
	if want := plain + "posture " + in.Posture.Root.String() + "\n"; text != want {
		t.Errorf("Statement with a posture = %q, want %q", text, want)
	}
	back, err := ParseStatement(text)
	if err != nil || back.Posture == nil || back.Posture.Root != in.Posture.Root {
		t.Errorf("ParseStatement(%q) = %+v, %v; want the posture root back", text, back.Posture, err)
	}
	if _, err := ParseStatement(text + "posture " + in.Posture.Root.String() + "\n"); err == nil {
		t.Errorf("ParseStatement of two posture lines = nil error")
	}
	if _, err := ParseStatement(plain + "posture 12\n"); err == nil {
		t.Errorf("ParseStatement of a short posture root = nil error")
	}
}
