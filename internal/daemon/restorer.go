package daemon

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/merkle"
	"vigil/store"
)

// EngineRestorer returns the Restorer of the "restore" remediation:
// engine.Restore of the one path, from the current baseline's trusted
// Btrfs snapshot, only when the snapshot's copy equals the baseline's
// record (verified to the root, and the baseline's seal by v when set).
// It opens the database read-only for each restore.
func EngineRestorer(cfg *config.Config, v note.Verifiers) Restorer {
	return engineRestorer{cfg: cfg, v: v}
}

// dbWait is how long a restore waits for a writer of the database.
const dbWait = 30 * time.Second

type engineRestorer struct {
	cfg *config.Config
	v   note.Verifiers
}

func (r engineRestorer) Restore(ctx context.Context, path string) (RestoreResult, error) {
	db, err := store.Open(r.cfg.Database, store.Options{ReadOnly: true, Timeout: dbWait})
	if err != nil {
		return RestoreResult{}, err
	}
	defer db.Close()
	res, err := engine.Restore(ctx, db, engine.RestoreOptions{Config: r.cfg, Paths: []string{path}, Verifiers: r.v})
	if err != nil {
		return RestoreResult{}, err
	}
	if len(res) != 1 {
		return RestoreResult{}, fmt.Errorf("%s: restore gave %d results", path, len(res))
	}
	out := RestoreResult{Source: res[0].Snapshot}
	switch res[0].Action {
	case engine.Restored, engine.Intact:
	default:
		return out, fmt.Errorf("%s: %s: %w", path, res[0].Action, res[0].Err)
	}
	if cur, err := db.Current(); err == nil {
		if e, err := cur.Lookup(path); err == nil && e != nil && e.Type == merkle.TypeFile {
			out.Hash = hex.EncodeToString(e.Hash[:])
		}
	}
	return out, nil
}
