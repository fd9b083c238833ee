//go:build linux

package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"vigil/btrfs"
	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/store"
)

// btrfsBench makes n files in 100-file directories on a loop Btrfs, takes
// a baseline, and makes ten changes of different kinds.
func btrfsBench(b *testing.B, n int) (*btrfsFixture, string) {
	b.Helper()
	mnt := fimtest.LoopFS(b, "btrfs", 2<<30, "noatime")
	f := &btrfsFixture{mnt: mnt, vol: filepath.Join(mnt, "vol")}
	if err := btrfs.Create(f.vol); err != nil {
		b.Fatal(err)
	}
	f.root = f.vol
	for i := range n {
		d := filepath.Join(f.vol, fmt.Sprintf("d%03d/e%02d", i/1000, i%10))
		if i%1000 < 10 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%07d", i)), []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	dbPath := filepath.Join(b.TempDir(), "vigil.db")
	text := fmt.Sprintf("database = %q\nroots = [%q]\n", dbPath, f.root)
	cfg, err := configParse(text)
	if err != nil {
		b.Fatal(err)
	}
	f.cfg = cfg
	if f.db, err = store.Open(dbPath, store.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.db.Close() })
	if _, err := engine.Init(context.Background(), f.db, engine.Options{Config: cfg}); err != nil {
		b.Fatal(err)
	}
	cur, err := f.db.Current()
	if err != nil {
		b.Fatal(err)
	}
	snap := cur.Info().Snapshots[0].Path
	for i := range 10 {
		p := filepath.Join(f.vol, fmt.Sprintf("d%03d/e%02d/f%07d", i, i, i*1000+i))
		switch i % 3 {
		case 0:
			err = os.WriteFile(p, []byte("changed"), 0o644)
		case 1:
			err = os.Chmod(p, 0o600)
		default:
			err = os.Remove(p)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return f, snap
}

// BenchmarkBtrfsCheck is a whole check of 20,000 files with 10 changes by
// the Btrfs search (the engine call, not the process).
func BenchmarkBtrfsCheck(b *testing.B) {
	f, _ := btrfsBench(b, 20000)
	o := engine.Options{Config: f.cfg}
	b.ResetTimer()
	for b.Loop() {
		res, err := engine.Check(context.Background(), f.db, o)
		if err != nil || res.Method != engine.MethodBtrfs || res.Changed+res.Removed == 0 {
			b.Fatalf("%+v, %v", res, err)
		}
	}
}

// BenchmarkDiffSnapshots diffs the baseline's snapshot of 20,000 files
// with the live subvolume, 10 changes apart.
func BenchmarkDiffSnapshots(b *testing.B) {
	f, snap := btrfsBench(b, 20000)
	b.ResetTimer()
	for b.Loop() {
		res, err := engine.DiffSnapshots(context.Background(), snap, f.vol, engine.Options{})
		if err != nil || res.Changed+res.Removed == 0 {
			b.Fatalf("%+v, %v", res, err)
		}
	}
}

func configParse(text string) (*config.Config, error) {
	return config.Parse("bench.toml", []byte(text))
}

// BenchmarkBtrfsScopedCheck is a check naming paths (the root, and one
// directory of 1,000 files) of 80,000 files with 10 changes: by the Btrfs
// search filtered by scope, and by the walk it replaced (Scan).
func BenchmarkBtrfsScopedCheck(b *testing.B) {
	f, _ := btrfsBench(b, 80000)
	for _, paths := range [][]string{{f.vol}, {filepath.Join(f.vol, "d000")}} {
		for _, scan := range []bool{false, true} {
			method := engine.MethodBtrfs
			if scan {
				method = engine.MethodScan
			}
			b.Run(fmt.Sprintf("paths=%s/method=%s", filepath.Base(paths[0]), method), func(b *testing.B) {
				o := engine.Options{Config: f.cfg, Paths: paths, Scan: scan}
				for b.Loop() {
					res, err := engine.Check(context.Background(), f.db, o)
					if err != nil || res.Method != method || res.Changed+res.Removed == 0 {
						b.Fatalf("%+v, %v", res, err)
					}
				}
			})
		}
	}
}
