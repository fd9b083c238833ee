package engine_test

import (
	"testing"

	"vigil/internal/fimtest"
)

// TestCheckSample: with a sample key, Check reads again the files the stat
// cache trusts that the sample chose (every file when reread_within is 1),
// and none without one.
func TestCheckSample(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fimtest.Tree{"a": fimtest.File("a"), "b": fimtest.File("b"), "d/c": fimtest.File("c")})
	fimtest.SleepPastRacy()
	f.init(t)
	o, st := f.statsOpts()
	f.check(t, o)
	if n := st.Hashed.Load(); n != 0 {
		t.Fatalf("Check without a sample key hashed %d files, want 0", n)
	}
	f.cfg.RereadWithin = 1
	o, st = f.statsOpts()
	o.SampleKey, o.SampleCheck = &[32]byte{1}, 1
	changes, _, _ := f.check(t, o)
	if n, s := st.Hashed.Load(), st.Sampled.Load(); n != 3 || s != 3 {
		t.Errorf("Check with reread_within 1 hashed %d files (%d sampled), want 3 (3)", n, s)
	}
	if len(changes) != 0 {
		t.Errorf("Check with the sample reported %v, want nothing", changes)
	}
}
