//go:build linux

package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/textdiff"
	"vigil/merkle"
)

// diffRecorder is a DiffReporter keeping the diffs by path.
type diffRecorder struct {
	engine.Funcs
	diffs map[string]*textdiff.Diff
}

func (d *diffRecorder) ChangeDiff(c merkle.Change, x *textdiff.Diff) error {
	if d.diffs == nil {
		d.diffs = map[string]*textdiff.Diff{}
	}
	d.diffs[c.Path] = x
	return nil
}

// TestBtrfsContentFromSnapshot: on Btrfs the old content of a diff is read
// from the baseline's trusted snapshot, and the database keeps none.
func TestBtrfsContentFromSnapshot(t *testing.T) {
	f := newBtrfsFixture(t, "etc")
	text := fmt.Sprintf("database = %q\nroots = [%q]\n[[rule]]\npaths = [%q]\ndiff = true\n", f.db.Path(), f.root, f.root+"/**")
	cfg, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	sshd := filepath.Join(f.root, "ssh", "sshd_config")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Dir(sshd), 0o755))
	must(os.WriteFile(sshd, []byte("Port 22\nPermitRootLogin no\n"), 0o644))
	ctx := context.Background()
	if _, err := engine.Init(ctx, f.db, engine.Options{Config: cfg}); err != nil {
		t.Fatal(err)
	}
	stored := func(when string) {
		t.Helper()
		if n, size, err := f.db.ContentStats(); err != nil || n != 0 {
			t.Errorf("%s: %d contents (%d bytes) kept in the database, want none on Btrfs (%v)", when, n, size, err)
		}
	}
	stored("after init")
	for i, line := range []string{"PermitRootLogin yes", "PermitRootLogin prohibit-password"} {
		must(os.WriteFile(sshd, []byte("Port 22\n"+line+"\n"), 0o644))
		r := &diffRecorder{}
		res, err := engine.Check(ctx, f.db, engine.Options{Config: cfg, Report: r})
		if err != nil {
			t.Fatal(err)
		}
		d := r.diffs[sshd]
		if res.Method != engine.MethodBtrfs || d == nil || !strings.Contains(d.Unified, "+"+line+"\n") || d.Removed != 1 {
			t.Fatalf("check %d: method %s, diff %+v; want the btrfs search and +%s", i, res.Method, d, line)
		}
		u := &diffRecorder{}
		if res, err := engine.Update(ctx, f.db, engine.Options{Config: cfg, Report: u}); err != nil || !res.Written {
			t.Fatalf("update %d: %v, written %v", i, err, res.Written)
		}
		if d := u.diffs[sshd]; d == nil || !strings.Contains(d.Unified, "+"+line+"\n") {
			t.Errorf("update %d: diff %+v, want +%s", i, d, line)
		}
		stored(fmt.Sprintf("after update %d", i))
	}
}
