//go:build !linux

package posture

import "context"

// collect records nothing away from Linux: every collector reads /proc or
// /sys.
func (c *Collector) collect(_ context.Context, _ string, _ *sink) string {
	return "not supported on this system (needs Linux)"
}
