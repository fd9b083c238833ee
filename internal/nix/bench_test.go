package nix_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"vigil/internal/fimtest"
	"vigil/internal/nix"
)

// benchStore builds a store of paths store paths of files files each
// (sizes 64 B to 16 KiB), nix-store --add'ed in one call.
func benchStore(b *testing.B, paths, files int) nix.Store {
	b.Helper()
	fimtest.NeedNix(b)
	root := b.TempDir()
	var args []string
	buf := []byte(strings.Repeat("vigil nix benchmark content ", 600))
	for p := range paths {
		dir := filepath.Join(root, "src", fmt.Sprintf("pkg%d", p))
		for f := range files {
			name := filepath.Join(dir, fmt.Sprintf("d%d", f%10), fmt.Sprintf("f%d", f))
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				b.Fatal(err)
			}
			size := 64 << ((p + f) % 9) // 64 B .. 16 KiB
			copy(buf, fmt.Sprintf("%d/%d", p, f))
			if err := os.WriteFile(name, buf[:size], 0o644); err != nil {
				b.Fatal(err)
			}
		}
		args = append(args, fimtest.ShellQuote(dir))
	}
	fimtest.NixRun(b, root, "nix-store --add "+strings.Join(args, " ")+" >/dev/null")
	if err := os.RemoveAll(filepath.Join(root, "src")); err != nil {
		b.Fatal(err)
	}
	return nix.Store{Root: root}
}

// BenchmarkVerify: the whole store hashed (seal, check --full) and an
// unchanged store checked with the stat cache (check). The store's size is
// VIGIL_NIX_BENCH_PATHS x VIGIL_NIX_BENCH_FILES (default 100 x 100; the
// README's figures: 1,000 x 100).
func BenchmarkVerify(b *testing.B) {
	paths, files := envInt("VIGIL_NIX_BENCH_PATHS", 100), envInt("VIGIL_NIX_BENCH_FILES", 100)
	s := benchStore(b, paths, files)
	full, err := nix.Verify(b.Context(), s, nix.Options{Full: true})
	if err != nil || len(full.Findings) != 0 {
		b.Fatalf("Verify: %v, findings %v", err, full.Findings)
	}
	b.Run(fmt.Sprintf("seal/files=%d", paths*files), func(b *testing.B) {
		b.SetBytes(full.Bytes)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := nix.Verify(b.Context(), s, nix.Options{Full: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("unchanged/files=%d", paths*files), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := nix.Verify(b.Context(), s, nix.Options{Known: full.States})
			if err != nil || r.Hashed != 0 {
				b.Fatalf("Verify(unchanged): %v, %d hashed", err, r.Hashed)
			}
		}
	})
	if dir := os.Getenv("VIGIL_NIX_BENCH_KEEP"); dir != "" {
		b.Logf("store kept for the comparison: %s", s.Root)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
