package engine_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/textdiff"
	"vigil/merkle"
	"vigil/store"
)

// copyEtc copies this machine's /etc (directories, readable regular files
// and symlinks; nothing else) into dir/etc and returns it.
func copyEtc(tb testing.TB, dir string) string {
	tb.Helper()
	dst := filepath.Join(dir, "etc")
	err := filepath.WalkDir("/etc", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: left out
		}
		to := filepath.Join(dst, p[len("/etc"):])
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return nil
			}
			return os.Symlink(t, to)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			return os.WriteFile(to, data, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

// contentEtc is a copy of /etc with a baseline taken under a configuration
// keeping /etc's content as the default one does (diff true) or not.
type contentEtc struct {
	root string
	cfg  *config.Config
	db   *store.DB
}

func newContentEtc(tb testing.TB, diff bool) *contentEtc {
	tb.Helper()
	dir := tb.TempDir()
	root := copyEtc(tb, dir)
	dbPath := filepath.Join(tb.TempDir(), "vigil.db")
	text := fmt.Sprintf("database = %q\nroots = [%q]\n[[rule]]\npaths = [%q]\ndiff = %v\n"+
		"[[rule]]\npaths = [%q, %q]\ndiff = false\n", dbPath, root, root+"/**", diff, root+"/{shadow,gshadow}", root+"/**/*-")
	cfg, err := config.Parse("bench.toml", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := engine.Init(context.Background(), db, engine.Options{Config: cfg}); err != nil {
		tb.Fatal(err)
	}
	return &contentEtc{root: root, cfg: cfg, db: db}
}

// diffCounter is a DiffReporter counting what it gets.
type diffCounter struct {
	engine.Funcs
	changes, diffs int
}

func (d *diffCounter) Change(merkle.Change) error { d.changes++; return nil }
func (d *diffCounter) ChangeDiff(_ merkle.Change, x *textdiff.Diff) error {
	d.changes++
	if x.Unified != "" {
		d.diffs++
	}
	return nil
}

// BenchmarkCheckUnchangedContent is the cost of a check of a copy of this
// machine's /etc that finds nothing, with content keeping on and off: it
// reads content only for what changed, so the two should not differ.
func BenchmarkCheckUnchangedContent(b *testing.B) {
	for _, diff := range []bool{false, true} {
		b.Run(fmt.Sprintf("diff=%v", diff), func(b *testing.B) {
			e := newContentEtc(b, diff)
			b.ReportAllocs()
			for b.Loop() {
				r := &diffCounter{}
				if _, err := engine.Check(context.Background(), e.db, engine.Options{Config: e.cfg, Report: r}); err != nil {
					b.Fatal(err)
				}
				if r.changes != 0 {
					b.Fatalf("unchanged check: %d changes", r.changes)
				}
			}
		})
	}
}

// keptText lists the files of root a default rule keeps: world-readable
// text files up to 64 KiB, secrets aside.
func keptText(tb testing.TB, root string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil || fi.Size() > 64<<10 || fi.Size() == 0 || fi.Mode().Perm()&0o004 == 0 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || !textdiff.IsText(data) || textdiff.HasPrivateKey(data) {
			return err
		}
		if b := filepath.Base(p); b == "shadow" || b == "gshadow" || b[len(b)-1] == '-' {
			return nil
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// BenchmarkContentGrowth measures the database's growth with content kept:
// 20 updates of a copy of this machine's /etc, each changing one line in
// each of 10 kept files. It reports the growth of the database (bbolt's
// high-water mark) per update and in all, against the compressed size of
// the changed files' new content (what the content bucket grew by), and
// the growth of the pages in use (the size less bbolt's free pages).
func BenchmarkContentGrowth(b *testing.B) {
	for _, diff := range []bool{true, false} {
		b.Run(fmt.Sprintf("diff=%v", diff), func(b *testing.B) { contentGrowth(b, diff) })
	}
}

func contentGrowth(b *testing.B, diff bool) {
	for b.Loop() {
		e := newContentEtc(b, diff)
		files := keptText(b, e.root)
		if len(files) < 10 {
			b.Skipf("%d kept files in /etc, want at least 10", len(files))
		}
		size0, err := e.db.Size()
		if err != nil {
			b.Fatal(err)
		}
		used0, err := e.db.InUse()
		if err != nil {
			b.Fatal(err)
		}
		_, content0, err := e.db.ContentStats()
		if err != nil {
			b.Fatal(err)
		}
		raw := 0
		const updates, perUpdate = 20, 10
		for u := range updates {
			for i := range perUpdate {
				p := files[(u*perUpdate+i*7)%len(files)]
				data, err := os.ReadFile(p)
				if err != nil {
					b.Fatal(err)
				}
				data = fmt.Appendf(data, "# vigil bench: update %d\n", u)
				raw += len(data)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			r := &diffCounter{}
			res, err := engine.Update(context.Background(), e.db, engine.Options{Config: e.cfg, Report: r})
			if err != nil {
				b.Fatal(err)
			}
			if want := perUpdate * btoi(diff); !res.Written || r.diffs != want {
				b.Fatalf("update %d: written %v, %d diffs, want %d", u, res.Written, r.diffs, want)
			}
		}
		size1, err := e.db.Size()
		if err != nil {
			b.Fatal(err)
		}
		used1, err := e.db.InUse()
		if err != nil {
			b.Fatal(err)
		}
		_, content1, err := e.db.ContentStats()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(files)), "kept-files")
		b.ReportMetric(float64(content0), "content-B-at-init")
		b.ReportMetric(float64(size1-size0)/updates, "db-B/update")
		b.ReportMetric(float64(size1-size0), "db-B-total")
		b.ReportMetric(float64(used1-used0), "in-use-B-total")
		b.ReportMetric(float64(content1-content0), "zstd-B-changed-total")
		b.ReportMetric(float64(raw), "raw-B-changed-total")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
