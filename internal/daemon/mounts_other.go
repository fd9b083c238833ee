//go:build !linux

package daemon

import "context"

// mountWatch follows mount changes on Linux only.
type mountWatch struct{}

func openMounts() (*mountWatch, error) { return &mountWatch{}, nil }

// run waits for ctx.
func (w *mountWatch) run(ctx context.Context, changed func([]mountChange)) error {
	<-ctx.Done()
	return nil
}
