package engine_test

import (
	"crypto/rand"
	"errors"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/store"
)

// TestKnownPaths: a path recorded (even if gone) or on disk is known; one
// that is neither is ErrUnknownPath, one outside the roots ErrOutside.
func TestKnownPaths(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{"etc/hosts": fimtest.File("h"), "etc/gone": fimtest.File("g")})
	f.init(t)
	if err := os.Remove(f.path("etc/gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path("etc/new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"recorded", f.path("etc/hosts"), nil},
		{"recorded and gone", f.path("etc/gone"), nil},
		{"on disk only", f.path("etc/new"), nil},
		{"the root", f.root, nil},
		{"a typo", f.path("etc/hostz"), engine.ErrUnknownPath},
		{"below a file", f.path("etc/hosts/x"), engine.ErrUnknownPath},
		{"below a gone directory", f.path("var/log/x"), engine.ErrUnknownPath},
		{"outside the roots", "/nonexistent-vigil-test", engine.ErrOutside},
	}
	for _, tt := range tests {
		err := engine.KnownPaths(f.db, []string{f.path("etc/hosts"), tt.path})
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("%s: KnownPaths(%s) = %v, want %v", tt.name, tt.path, err, tt.want)
		}
	}
	if err := engine.KnownPaths(f.db, nil); err != nil {
		t.Errorf("KnownPaths(no paths) = %v, want nil", err)
	}
}

// TestVerifyStatementKinds: an unsigned baseline is ErrUnsigned, one
// signed by another key ErrForeignKey naming it; both are ErrTampered.
func TestVerifyStatementKinds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{"f": fimtest.File("f")})
	in := f.init(t).Baseline
	skey, vkey, err := note.GenerateKey(rand.Reader, "pinned")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)
	pinned := note.VerifierList(v)
	err = engine.VerifyStatement(in, pinned)
	if !errors.Is(err, engine.ErrUnsigned) || !errors.Is(err, store.ErrTampered) || errors.Is(err, engine.ErrForeignKey) {
		t.Errorf("VerifyStatement(unsigned) = %v, want ErrUnsigned and ErrTampered", err)
	}
	oskey, _, _ := note.GenerateKey(rand.Reader, "intruder")
	other, _ := note.NewSigner(oskey)
	in.Signature, _ = note.Sign(&note.Note{Text: engine.Statement(in)}, other)
	in.SignedBy = "intruder"
	err = engine.VerifyStatement(in, pinned)
	if !errors.Is(err, engine.ErrForeignKey) || !errors.Is(err, store.ErrTampered) || err.Error() != `baseline 1: signed by "intruder", not by the pinned key` {
		t.Errorf("VerifyStatement(signed by another key) = %v, want ErrForeignKey naming intruder", err)
	}
	s, _ := note.NewSigner(skey)
	in.Signature, _ = note.Sign(&note.Note{Text: engine.Statement(in)}, s)
	in.SignedBy = "pinned"
	if err := engine.VerifyStatement(in, pinned); err != nil {
		t.Errorf("VerifyStatement(signed by the pinned key) = %v, want nil", err)
	}
}
