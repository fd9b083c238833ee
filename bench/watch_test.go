package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWatchSmall runs the watch benchmark on a small burst with a vigil
// built from this tree.
func TestWatchSmall(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is not on PATH, needed to build vigil: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/vigil").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	res, err := Watch(context.Background(), WatchOptions{Vigil: bin, Dir: dir, Samples: 5, Burst: 300})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if res.Reported != 300 || res.P50 <= 0 || res.P99 < res.P50 || res.PeakRSS <= 0 {
		t.Errorf("Watch = %+v, want all 300 paths reported, latencies and a peak RSS", res)
	}
}
