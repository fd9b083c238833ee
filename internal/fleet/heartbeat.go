package fleet

import (
	"context"
	"time"

	"vigil/internal/config"
	"vigil/internal/engine"
)

// Heartbeat publishes the host's state at once and then every
// cfg.Fleet's heartbeat interval until ctx ends (vigil watch runs it
// beside the daemon): each beat opens the database read-only, takes the
// trust decision through a new engine of cfg with the agent as its
// witness, and publishes, each within engine.WitnessTimeout plus the
// lock wait. report, if set, is told of each beat's failure; the next
// beat tries again.
func (a *Agent) Heartbeat(ctx context.Context, cfg *config.Config, report func(error)) {
	t := time.NewTicker(cfg.Fleet.Heartbeat())
	defer t.Stop()
	for {
		if err := a.beat(ctx, cfg); err != nil && report != nil && ctx.Err() == nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) beat(ctx context.Context, cfg *config.Config) error {
	eng, err := engine.New(cfg, engine.Settings{Host: a.host, Version: a.version, Witness: a})
	if err != nil {
		return err
	}
	db, err := engine.OpenDB(cfg.Database, true, false, 2*time.Second)
	if err != nil {
		return err
	}
	defer db.Close()
	bctx, cancel := context.WithTimeout(ctx, engine.WitnessTimeout)
	defer cancel()
	return a.Publish(bctx, eng, db, nil)
}
