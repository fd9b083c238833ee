package e2e

import (
	"context"
	"testing"

	"vigil/bench"
)

// TestWatchSmall runs the watch benchmark (bench.Watch) on a small burst
// with a vigil built from this tree.
func TestWatchSmall(t *testing.T) {
	res, err := bench.Watch(context.Background(), bench.WatchOptions{Vigil: vigilBinary(t), Dir: t.TempDir(), Samples: 5, Burst: 300})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if res.Reported != 300 || res.P50 <= 0 || res.P99 < res.P50 || res.PeakRSS <= 0 {
		t.Errorf("Watch = %+v, want all 300 paths reported, latencies and a peak RSS", res)
	}
}
